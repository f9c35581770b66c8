// What the CLI reports when something goes wrong, and with which exit code. Every failure is a
// CliError: usage mistakes found before any request, the API's ARM errors (code, message, target,
// details) and operations that ended Failed or Canceled. Messages never carry the credential.
import type { ArmErrorBody, ErrorDetail } from './api-types.js';

/** The exit codes (documented in README.md, "The hcs CLI"). */
export const EXIT = {
  ok: 0,
  /** Bad flags or arguments, missing settings: found before any request, so nothing changed. */
  usage: 1,
  /** No usable credential, or the API answered 401/403. */
  auth: 2,
  /** 404: the cluster, snapshot or operation does not exist (or is outside the caller's scope). */
  notFound: 3,
  /** 409 or 412: another operation runs, a quota, a state or an ETag stands in the way. */
  conflict: 4,
  /** The operation ended Failed or Canceled. */
  operationFailed: 5,
  /** The API could not answer: 5xx, 429, a network error or a timeout. */
  unavailable: 6,
  /** The API refused the request as invalid (400 and other 4xx). */
  rejected: 7,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly arm?: { code: string; target?: string; details?: ErrorDetail[]; httpStatus?: number; requestId?: string },
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(EXIT.usage, message);

/** The exit code for an HTTP error status. */
export function exitForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409 || status === 412) return EXIT.conflict;
  if (status === 429 || status >= 500) return EXIT.unavailable;
  return EXIT.rejected;
}

/** An ARM error answer as a CliError (a body that is not ARM's still gives the status). */
export function apiError(status: number, body: string, requestId: string | undefined): CliError {
  let error: ArmErrorBody['error'] | undefined;
  try {
    const parsed = JSON.parse(body) as Partial<ArmErrorBody>;
    if (parsed.error && typeof parsed.error.code === 'string') error = parsed.error;
  } catch {
    /* not JSON: described by the status alone */
  }
  const code = error?.code ?? `Http${status}`;
  const message = error?.message ?? `The API answered HTTP ${status}.`;
  return new CliError(exitForStatus(status), message, {
    code,
    httpStatus: status,
    ...(error?.target ? { target: error.target } : {}),
    ...(error?.details?.length ? { details: error.details } : {}),
    ...(requestId ? { requestId } : {}),
  });
}

/** An operation that ended Failed or Canceled, with its error. */
export function operationError(status: string, error: ArmErrorBody['error'] | undefined, operationId: string): CliError {
  const code = error?.code ?? (status === 'Canceled' ? 'OperationCanceled' : 'OperationFailed');
  const message = error?.message ?? `The operation ${status.toLowerCase()}.`;
  return new CliError(EXIT.operationFailed, `operation ${operationId} ${status.toLowerCase()}: ${message}`, {
    code,
    ...(error?.target ? { target: error.target } : {}),
    ...(error?.details?.length ? { details: error.details } : {}),
  });
}

/** The lines printed on stderr for an error: code and message, then target, details and the request id. */
export function formatError(err: CliError): string {
  const lines = [`error: ${err.arm ? `${err.arm.code}: ` : ''}${err.message}`];
  if (err.arm?.target) lines.push(`  target: ${err.arm.target}`);
  for (const d of err.arm?.details ?? []) lines.push(`  - ${d.code}${d.target ? ` (${d.target})` : ''}: ${d.message}`);
  if (err.arm?.httpStatus) lines.push(`  HTTP ${err.arm.httpStatus}${err.arm.requestId ? `, request id ${err.arm.requestId}` : ''}`);
  return lines.join('\n') + '\n';
}
