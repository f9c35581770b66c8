// Runs the commands of a runbook in docs/runbooks/ exactly as written, so every command an SRE
// is shown has been run. A runbook's commands are its ```sh blocks; each block starts with
// `# step: <id>` (lower-case words and dashes) and runs in bash with `set -euo pipefail`, in the
// environment the runbook's README section "Environment" names. A test runs the steps in the
// order its scenario needs and, when done, asserts that no step was left unrun.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const RUNBOOK_DIR = join(import.meta.dirname, '..', '..', 'docs', 'runbooks');

export interface RunbookStep {
  id: string;
  /** The block's text, as shown in the runbook. */
  script: string;
  /** 1-based line of the block's opening fence, for error messages. */
  line: number;
}

export interface StepResult {
  stdout: string;
  stderr: string;
}

const STEP_LINE = /^# step: ([a-z0-9]+(?:-[a-z0-9]+)*)$/;

/** The runbooks (file names) in docs/runbooks/, without the README. */
export function runbookFiles(): string[] {
  return readdirSync(RUNBOOK_DIR)
    .filter((f) => f.endsWith('.md') && f !== 'README.md')
    .sort();
}

/** Parses a runbook's ```sh blocks; a block without a valid, unique `# step:` first line is an error. */
export function parseRunbook(file: string, text: string): RunbookStep[] {
  const steps: RunbookStep[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const fence = /^```(\S*)\s*$/.exec(lines[i]!);
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: code block never closed`);
    if (fence[1] !== 'sh') continue;
    const id = STEP_LINE.exec(body[0] ?? '')?.[1];
    if (!id) throw new Error(`${file}:${start + 1}: a sh block must start with "# step: <id>" (lower-case words and dashes)`);
    if (steps.some((s) => s.id === id)) throw new Error(`${file}:${start + 1}: step "${id}" appears twice`);
    steps.push({ id, script: body.join('\n'), line: start + 1 });
  }
  return steps;
}

/**
 * One runbook for a test: `run(id)` runs that step's block (throwing with its output when it
 * exits non-zero) and `unrun()` lists the steps not run yet.
 */
export function openRunbook(file: string, env: Record<string, string>, cwd: string) {
  const steps = parseRunbook(file, readFileSync(join(RUNBOOK_DIR, file), 'utf8'));
  const ran = new Set<string>();
  return {
    steps,
    async run(id: string, extraEnv: Record<string, string> = {}): Promise<StepResult> {
      const step = steps.find((s) => s.id === id);
      if (!step) throw new Error(`${file} has no step "${id}"; it has ${steps.map((s) => s.id).join(', ')}`);
      ran.add(id);
      return runScript(`${file}:${step.line} (${id})`, step.script, { ...env, ...extraEnv }, cwd);
    },
    unrun: (): string[] => steps.filter((s) => !ran.has(s.id)).map((s) => s.id),
  };
}

function runScript(where: string, script: string, env: Record<string, string>, cwd: string): Promise<StepResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -euo pipefail\n${script}`], {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${where} exited with ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    });
  });
}
