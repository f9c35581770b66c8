// Reading loosely typed JSON values (request bodies, token claims, stored properties) as text.

/** A JSON value as text: strings as they are, numbers printed, anything else empty. */
export function str(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}
