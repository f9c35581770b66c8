// ARM list paging shared by every list route: `$top` (page size), `$skipToken` (an opaque
// continuation token) and the `nextLink` that carries both to the next page.
import type { RequestContext } from '../context.js';
import type { NewestFirstPosition } from '../../../../store/newest-first.js';
import { badRequest, type ApiError } from '../errors.js';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;

export interface PageRequest {
  skipToken?: string;
  top?: number;
}

/** The page size a request asks for, or a precise 400. */
export function pageSize(req: PageRequest): number {
  const top = req.top ?? DEFAULT_PAGE;
  if (!Number.isInteger(top) || top < 1 || top > MAX_PAGE)
    throw badRequest('InvalidParameter', `$top must be an integer from 1 to ${MAX_PAGE}; got ${top}.`, '$top');
  return top;
}

/** A continuation token for `list` (the list's own name, so a token of another list is refused). */
export function encodeSkipToken(list: string, position: readonly string[]): string {
  return Buffer.from(JSON.stringify([list, ...position])).toString('base64url');
}

/**
 * The position a token of `list` holds (`size` strings), undefined without a token; a token that
 * is not one of this list's is a 400 naming `$skipToken`.
 */
export function decodeSkipToken(req: PageRequest, list: string, size: number): string[] | undefined {
  if (!req.skipToken) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(req.skipToken, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== size + 1 || parsed[0] !== list || !parsed.every((p) => typeof p === 'string')) {
    throw invalidSkipToken();
  }
  return parsed.slice(1);
}

/** A newest-first list's position (store/newest-first.ts) from its token: microseconds and id. */
export function decodeNewestFirstToken(req: PageRequest, list: string): NewestFirstPosition | undefined {
  const position = decodeSkipToken(req, list, 2);
  if (!position) return undefined;
  const [micros, id] = position as [string, string];
  if (!/^\d{1,20}$/.test(micros) || id === '') throw invalidSkipToken();
  return { micros, id };
}

/** The token of the page after `next` in a newest-first list. */
export function encodeNewestFirstToken(list: string, next: NewestFirstPosition): string {
  return encodeSkipToken(list, [next.micros, next.id]);
}

/** The answer to a token that is not a position in this list. */
export function invalidSkipToken(): ApiError {
  return badRequest('InvalidParameter', '$skipToken is not a continuation token from this list; start again without it.', '$skipToken');
}

/** The nextLink of a page: the list's path with api-version, `$skipToken` and the caller's `$top`. */
export function nextLink(ctx: RequestContext, path: string, skipToken: string, req: PageRequest): string {
  const q = new URLSearchParams({ 'api-version': ctx.apiVersion, $skipToken: skipToken });
  if (req.top) q.set('$top', String(req.top));
  return `${ctx.baseUrl}${path}?${q.toString()}`;
}
