// REST calls to the control plane's ARM-shaped API with the caller's bearer token. Every URL the
// API hands back (nextLink, Location, Azure-AsyncOperation) is followed on the configured
// endpoint only: its path is kept, its host is not, so the token never goes anywhere else.
import { API_VERSION } from '../../api/src/api-version.js';
import { httpCall, type HttpResult } from '../../../lib/http.js';
import { apiError, CliError, EXIT, usageError } from './errors.js';

export interface ApiClientOptions {
  endpoint: URL;
  token: string;
  ca?: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

export interface ApiAnswer {
  status: number;
  headers: HttpResult['headers'];
  body: string;
}

export interface CallOptions {
  body?: unknown;
  headers?: Record<string, string>;
  /** Statuses answered rather than thrown (e.g. 202 on a Location URL is always fine). */
  accept?: (status: number) => boolean;
}

export class ApiClient {
  constructor(private readonly o: ApiClientOptions) {}

  /** A path under the endpoint, or an absolute URL the API returned (its path and query only). */
  url(pathOrUrl: string): string {
    const base = this.o.endpoint;
    let u: URL;
    if (/^https?:\/\//i.test(pathOrUrl)) {
      const returned = new URL(pathOrUrl);
      u = new URL(`${base.origin}${returned.pathname}${returned.search}`);
    } else {
      u = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${pathOrUrl}`);
    }
    if (!u.searchParams.has('api-version')) u.searchParams.set('api-version', API_VERSION);
    return u.toString();
  }

  async call(method: string, pathOrUrl: string, o: CallOptions = {}): Promise<ApiAnswer> {
    const url = this.url(pathOrUrl);
    let res: HttpResult;
    try {
      res = await httpCall(url, {
        method,
        headers: { authorization: `Bearer ${this.o.token}`, accept: 'application/json', ...o.headers },
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        ...(this.o.ca ? { ca: this.o.ca } : {}),
        timeoutInMs: this.o.timeoutMs ?? 30_000,
      });
    } catch (err) {
      // Node's messages name the address and the cause (ECONNREFUSED, a certificate problem), never headers.
      throw new CliError(EXIT.unavailable, `cannot reach the API at ${this.o.endpoint.origin}: ${(err as Error).message}`);
    }
    if (res.status >= 400 && !o.accept?.(res.status)) {
      throw apiError(res.status, res.body, headerValue(res.headers, 'x-ms-request-id'));
    }
    return { status: res.status, headers: res.headers, body: res.body };
  }

  /** A JSON answer (2xx). */
  async json<T>(method: string, pathOrUrl: string, o: CallOptions = {}): Promise<T> {
    return parseJson<T>(await this.call(method, pathOrUrl, o));
  }

  /** Every item of a paged list, following nextLink (with the list's own method: GET, or POST for a list action). */
  async list<T>(path: string, method: 'GET' | 'POST' = 'GET'): Promise<T[]> {
    const items: T[] = [];
    for (let next: string | undefined = path; next;) {
      const page: { value?: T[]; nextLink?: string } = await this.json(method, next);
      items.push(...(page.value ?? []));
      next = page.nextLink;
    }
    return items;
  }
}

export function parseJson<T>(answer: ApiAnswer): T {
  try {
    return JSON.parse(answer.body) as T;
  } catch {
    throw new CliError(EXIT.unavailable, `the API answered HTTP ${answer.status} with a body that is not JSON`);
  }
}

export function headerValue(headers: HttpResult['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** One path segment, encoded; "." and ".." are refused (a URL parser would drop or climb them). */
function seg(value: string): string {
  if (value === '' || value === '.' || value === '..') throw usageError(`"${value}" is not a valid name in a resource path`);
  return encodeURIComponent(value);
}

/** /subscriptions/{sub}/resourceGroups/{rg}/providers/HCS.Consul/clusters/{name} */
export function clusterPath(subscription: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${seg(subscription)}/resourceGroups/${seg(resourceGroup)}/providers/HCS.Consul/clusters/${seg(name)}`;
}

/** The clusters of a resource group, or of the whole subscription. */
export function clusterListPath(subscription: string, resourceGroup?: string): string {
  return resourceGroup
    ? `/subscriptions/${seg(subscription)}/resourceGroups/${seg(resourceGroup)}/providers/HCS.Consul/clusters`
    : `/subscriptions/${seg(subscription)}/providers/HCS.Consul/clusters`;
}

/** An operation's status document. */
export function operationStatusPath(subscription: string, location: string, operationId: string): string {
  return `/subscriptions/${seg(subscription)}/providers/HCS.Consul/locations/${seg(location)}/operationStatuses/${seg(operationId)}`;
}
