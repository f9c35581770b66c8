// Domain validation errors, shaped so the API can turn them into an ARM error body
// (`{ error: { code, message, target, details } }`) without knowing any rule.

export interface ErrorDetail {
  /** Stable PascalCase code clients can switch on, e.g. `InvalidServerCount`. */
  code: string;
  /** Says what was wrong and what is allowed. Never contains secrets. */
  message: string;
  /** JSON path of the offending field, e.g. `properties.network.cidr`. */
  target?: string;
}

export interface ArmErrorBody {
  error: { code: string; message: string; target?: string; details: ErrorDetail[] };
}

/** The ARM code for a request with several problems at once. */
export const INVALID_REQUEST_CONTENT = 'InvalidRequestContent';

/**
 * Bad input. Carries every problem found so the customer can fix them in one round trip.
 * With exactly one problem the top-level code/message/target are that problem's, because
 * clients (and ARM's portal) show only the top level.
 */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  readonly code: string;
  readonly target: string | undefined;
  readonly details: ErrorDetail[];

  constructor(details: ErrorDetail[]) {
    const unique = dedupe(details);
    const only = unique.length === 1 ? unique[0] : undefined;
    super(only ? only.message : summarise(unique));
    this.code = only ? only.code : INVALID_REQUEST_CONTENT;
    this.target = only?.target;
    this.details = unique;
  }

  toArmErrorBody(): ArmErrorBody {
    const error: ArmErrorBody['error'] = { code: this.code, message: this.message, details: this.details };
    if (this.target !== undefined) error.target = this.target;
    return { error };
  }
}

export function isValidationError(value: unknown): value is ValidationError {
  // Matched by name, not instanceof: errors cross Temporal/worker boundaries as plain objects.
  return value instanceof Error && value.name === 'ValidationError';
}

/** Throws a ValidationError when there is at least one problem; otherwise returns. */
export function throwIfAny(details: ErrorDetail[]): void {
  if (details.length > 0) throw new ValidationError(details);
}

export function detail(code: string, message: string, target?: string): ErrorDetail {
  return target === undefined ? { code, message } : { code, message, target };
}

/**
 * JSON path for a field: identifiers joined with dots, other keys bracket-quoted and array
 * indexes in brackets, so `['tags', 'cost center']` -> `tags['cost center']`.
 */
export function jsonPath(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const segment of segments) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `['${segment.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`;
  }
  return out;
}

/** Short, safe rendering of a rejected value for messages ("got 4", "got a list"). */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list of ${value.length}`;
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') {
    const shown = value.length > 64 ? `${value.slice(0, 61)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

function dedupe(details: ErrorDetail[]): ErrorDetail[] {
  const seen = new Set<string>();
  return details.filter((d) => {
    const key = `${d.code}\u0000${d.target ?? ''}\u0000${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function summarise(details: ErrorDetail[]): string {
  if (details.length === 0) return 'The request content is invalid.';
  return `The request content has ${details.length} problems: ${details.map((d) => d.message).join('; ')}`;
}
