// What the Terraform driver (terraform.ts) reads from terraform's output. The machine-readable
// UI (`terraform apply -json`, one JSON message per line): the apply's outputs from its
// `outputs` message (no `terraform output` run after it), and every other message turned back
// into the text the human UI prints, so logs, heartbeats and failures read the same as without
// -json. The resources an apply found already existing, and a state's output values.

/** One message of the machine-readable UI; only the fields the driver reads. */
export interface UiMessage {
  type?: string;
  '@message'?: string;
  diagnostic?: { severity?: string; summary?: string; detail?: string; address?: string };
  outputs?: Record<string, { sensitive?: boolean; value?: unknown }>;
}

/** Splits a stream into whole lines as its chunks arrive (a chunk can end inside a line). */
export function lineSplitter(): { push(chunk: string): string[]; end(): string[] } {
  let rest = '';
  return {
    push(chunk) {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      return lines;
    },
    end() {
      const last = rest;
      rest = '';
      return last ? [last] : [];
    },
  };
}

/** A line as a message; a line that is not a JSON object (a panic, say) stays its own text. */
export function parseUiLine(line: string): UiMessage {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    try {
      return JSON.parse(trimmed) as UiMessage;
    } catch {
      /* not one of terraform's messages */
    }
  }
  return { '@message': line };
}

/**
 * The text the human UI prints for a message. A diagnostic keeps the human form's parts
 * ("Error: <summary>", "with <address>,", the detail), which the failure classification and the
 * adoption of orphaned resources (terraform.ts) read.
 */
export function uiText(m: UiMessage): string {
  const d = m.diagnostic;
  if (m.type === 'diagnostic' && d) {
    const head = `${d.severity === 'warning' ? 'Warning' : 'Error'}: ${d.summary ?? ''}`;
    return [head, ...(d.address ? [`  with ${d.address},`] : []), ...(d.detail ? [d.detail] : [])].join('\n\n');
  }
  return m['@message'] ?? '';
}

/**
 * The root module's output values from an apply's `outputs` message (the last one), or undefined
 * when there is none or a value is withheld (a sensitive output): then `terraform output` reads them.
 */
export function appliedOutputs(messages: UiMessage[]): Record<string, unknown> | undefined {
  const last = messages.filter((m) => m.type === 'outputs' && m.outputs).at(-1)?.outputs;
  if (!last) return undefined;
  const entries = Object.entries(last);
  if (entries.some(([, o]) => o.sensitive || !('value' in o))) return undefined;
  return Object.fromEntries(entries.map(([k, o]) => [k, o.value]));
}

/** Resources terraform refused to create because they exist (address in the config, cloud id). */
export function alreadyExisting(out: string): Array<{ address: string; id: string }> {
  const found: Array<{ address: string; id: string }> = [];
  const re = /Error: Resource already exists\s+with ([^\s,]+),[\s\S]*?A resource with the ID\s+"([^"]+)"/g;
  for (let m = re.exec(out); m; m = re.exec(out)) found.push({ address: m[1]!, id: m[2]! });
  return found;
}

/**
 * The root module's output values in a raw state (`terraform state pull`; or `{ outputs }` of
 * `terraform output -json`, the same shape), {} for no state. Read when the plan saw nothing to
 * change, so they are current.
 */
export function stateOutputs(state: unknown): Record<string, unknown> {
  const outputs = (state as { outputs?: Record<string, { value: unknown }> } | null)?.outputs ?? {};
  return Object.fromEntries(Object.entries(outputs).map(([k, v]) => [k, v.value]));
}
