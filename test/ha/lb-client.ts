// A REST client of the HA topology as a careful ARM client behaves: every request goes through
// the load balancer; an answer a client retries (connection reset or refused, 502, 503, 429 with
// Retry-After) is counted and the request sent again after the wait the answer asks for; any other
// failure (another 5xx, a timeout, a 429 without Retry-After) is counted as one the client could
// not have handled. The counts go to the run's report.
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type JsonValue } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import { SERVICES } from '../../apps/api/src/contract.js';
import { httpCall, type HttpResult } from '../../lib/http.js';

/** Why a request is retried: a transport error code, or the HTTP status. */
export type RetryReason = 'ECONNRESET' | 'ECONNREFUSED' | 'EPIPE' | '502' | '503' | '429';

export type Outcome =
  { kind: 'answer'; result: HttpResult } | { kind: 'retry'; reason: RetryReason; waitMs: number } | { kind: 'fail'; why: string };

const RETRIED_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE']);

/** What a client does with one attempt's result or error. */
export function classify(r: { result: HttpResult } | { error: unknown }): Outcome {
  if ('error' in r) {
    const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
    if (code && RETRIED_CODES.has(code)) return { kind: 'retry', reason: code as RetryReason, waitMs: 1_000 };
    return { kind: 'fail', why: r.error instanceof Error ? `${code ?? 'error'}: ${r.error.message}` : String(r.error) };
  }
  const { status, headers } = r.result;
  if (status === 502 || status === 503)
    return { kind: 'retry', reason: String(status) as RetryReason, waitMs: retryAfterMs(headers) ?? 1_000 };
  if (status === 429) {
    const wait = retryAfterMs(headers);
    return wait === undefined ? { kind: 'fail', why: '429 without Retry-After' } : { kind: 'retry', reason: '429', waitMs: wait };
  }
  if (status >= 500) return { kind: 'fail', why: `${status}: ${r.result.body.slice(0, 200)}` };
  return { kind: 'answer', result: r.result };
}

function retryAfterMs(headers: HttpResult['headers']): number | undefined {
  const v = headers['retry-after'];
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || !/^\d+$/.test(s.trim())) return undefined;
  return Number(s) * 1_000;
}

export interface ClientCounts {
  /** Requests that got an answer (any status the API meant, 2xx or 4xx). */
  answered: number;
  /** Attempts retried, by reason. */
  retried: Partial<Record<RetryReason, number>>;
  /** Requests that failed in a way a client cannot retry, with why. */
  failed: string[];
}

export class LbClient {
  readonly counts: ClientCounts = { answered: 0, retried: {}, failed: [] };

  constructor(private readonly o: { baseUrl: string; ca: string; token: string; maxAttempts?: number; onRetry?: (what: string) => void }) {}

  /** One request, retried while the answers are retryable; undefined when it failed for good. */
  async call(method: string, pathOrUrl: string, body?: unknown): Promise<HttpResult | undefined> {
    const url = pathOrUrl.startsWith('https://') ? pathOrUrl : `${this.o.baseUrl}${pathOrUrl}`;
    for (let attempt = 1; ; attempt++) {
      const outcome = classify(
        await httpCall(url, {
          method,
          ca: this.o.ca,
          headers: { authorization: `Bearer ${this.o.token}` },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          timeoutInMs: 30_000,
        }).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        ),
      );
      if (outcome.kind === 'answer') {
        this.counts.answered++;
        return outcome.result;
      }
      if (outcome.kind === 'fail' || attempt >= (this.o.maxAttempts ?? 30)) {
        const why = outcome.kind === 'fail' ? outcome.why : `still ${outcome.reason} after ${attempt} attempts`;
        this.counts.failed.push(`${method} ${new URL(url).pathname}: ${why}`);
        return undefined;
      }
      this.counts.retried[outcome.reason] = (this.counts.retried[outcome.reason] ?? 0) + 1;
      this.o.onRetry?.(`${method} ${new URL(url).pathname}: ${outcome.reason}, retried in ${outcome.waitMs} ms`);
      await new Promise((r) => setTimeout(r, outcome.waitMs));
    }
  }
}

/** What a gRPC client retries: UNAVAILABLE (the connection to a replica broke) and RESOURCE_EXHAUSTED (rate limit, with RetryInfo). */
export function grpcRetryable(code: GrpcStatus): boolean {
  return code === GrpcStatus.UNAVAILABLE || code === GrpcStatus.RESOURCE_EXHAUSTED;
}

/** gRPC through the load balancer: one channel, calls retried while the status is retryable, counted like REST. */
export class LbGrpcClient {
  readonly counts: ClientCounts = { answered: 0, retried: {}, failed: [] };
  readonly retriedStatuses: Record<string, number> = {};
  private readonly client: Client;

  constructor(private readonly o: { address: string; ca: string; token: string; maxAttempts?: number; onRetry?: (what: string) => void }) {
    this.client = new Client(o.address, credentials.createSsl(Buffer.from(o.ca)));
  }

  /** Calls `Service/Method` (e.g. ClusterService/GetCluster); the response as proto JSON, or undefined when it failed for good. */
  async call(rpc: string, request: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    const method = findMethod(rpc);
    for (let attempt = 1; ; attempt++) {
      const r = await this.once(method, request);
      if (r.ok) {
        this.counts.answered++;
        return r.response;
      }
      const name = GrpcStatus[r.error.code] ?? String(r.error.code);
      if (!grpcRetryable(r.error.code) || attempt >= (this.o.maxAttempts ?? 30)) {
        this.counts.failed.push(
          `gRPC ${rpc}: ${name} ${r.error.details}${grpcRetryable(r.error.code) ? ` after ${attempt} attempts` : ''}`,
        );
        return undefined;
      }
      this.retriedStatuses[name] = (this.retriedStatuses[name] ?? 0) + 1;
      this.o.onRetry?.(`gRPC ${rpc}: ${name}, retried in 1000 ms`);
      await new Promise((res) => setTimeout(res, 1_000));
    }
  }

  close(): void {
    this.client.close();
  }

  private once(
    method: DescMethod,
    request: Record<string, unknown>,
  ): Promise<{ ok: true; response: Record<string, unknown> } | { ok: false; error: ServiceError }> {
    const md = new Metadata();
    md.set('authorization', `Bearer ${this.o.token}`);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        `/${method.parent.typeName}/${method.name}`,
        (m: Record<string, unknown>) => Buffer.from(toBinary(method.input, fromJson(method.input, m as JsonValue))),
        (b: Buffer) => toJson(method.output, fromBinary(method.output, b)) as Record<string, unknown>,
        request,
        md,
        { deadline: Date.now() + 30_000 },
        (error, response) => resolve(error ? { ok: false, error } : { ok: true, response: response! }),
      );
    });
  }
}

function findMethod(rpc: string): DescMethod {
  const [service, name] = rpc.split('/');
  const m = SERVICES.find((s) => s.name === service)?.methods.find((x) => x.name === name);
  if (!m) throw new Error(`no RPC ${rpc} in the contract`);
  return m;
}
