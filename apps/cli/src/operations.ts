// Following a long-running operation the way ARM clients do: the Azure-AsyncOperation URL is the
// status document (status, percentComplete, properties.step), polled until it is terminal; the
// Location URL (operationResults) then answers what the operation produced: the cluster, the
// snapshot, a new root token (read once) or nothing (204).
import type { OperationView } from './api-types.js';
import { headerValue, parseJson, type ApiAnswer, type ApiClient } from './client.js';
import { CliError, EXIT, operationError } from './errors.js';
import type { ProgressSink } from './progress.js';

export const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** Where a started operation is followed. */
export interface StartedOperation {
  statusUrl: string;
  resultUrl: string;
}

/** The operation an answer started (202, or a PUT's 200/201 with Azure-AsyncOperation); none when nothing had to change. */
export function startedOperation(answer: ApiAnswer): StartedOperation | undefined {
  const status = headerValue(answer.headers, 'azure-asyncoperation');
  const location = headerValue(answer.headers, 'location');
  if (!status) return undefined;
  return { statusUrl: status, resultUrl: location ?? status.replace('/operationStatuses/', '/operationResults/') };
}

/** The status and result URLs of an operation given by its status path. */
export function operationUrls(statusPath: string): StartedOperation {
  return { statusUrl: statusPath, resultUrl: statusPath.replace('/operationStatuses/', '/operationResults/') };
}

export interface FollowOptions {
  progress: ProgressSink;
  /** Between polls; default 1 s. */
  pollMs?: number;
  /** Fetch what a Succeeded operation produced from the result URL (default true). */
  result?: boolean;
}

export interface Followed<R> {
  operation: OperationView;
  /** What the result URL answered (undefined for 204 or when not asked). */
  result?: R;
}

export async function getOperation(client: ApiClient, started: StartedOperation): Promise<OperationView> {
  return client.json<OperationView>('GET', started.statusUrl);
}

/**
 * Polls the status document until the operation ends, showing each state on `progress`; throws
 * (exit 5) when it ended Failed or Canceled, with the operation's error.
 */
export async function followOperation<R>(client: ApiClient, started: StartedOperation, o: FollowOptions): Promise<Followed<R>> {
  let op: OperationView;
  try {
    for (;;) {
      op = await getOperation(client, started);
      o.progress.update(op);
      if (TERMINAL.has(op.status)) break;
      await new Promise((r) => setTimeout(r, o.pollMs ?? 1_000));
    }
  } finally {
    o.progress.stop();
  }
  if (op.status !== 'Succeeded') throw operationError(op.status, op.error, op.name);
  if (o.result === false) return { operation: op };
  const answer = await client.call('GET', started.resultUrl);
  if (answer.status === 202) throw new CliError(EXIT.unavailable, `operation ${op.name} succeeded but its result URL still answers 202`);
  return answer.status === 204 || answer.body === '' ? { operation: op } : { operation: op, result: parseJson<R>(answer) };
}
