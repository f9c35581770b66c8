// Per-caller request rate limit: one token bucket per authenticated caller subject, shared by
// REST and gRPC (it wraps the authenticator both transports call). A caller over its rate gets
// 429 TooManyRequests with Retry-After (gRPC: RESOURCE_EXHAUSTED with google.rpc.RetryInfo), as
// ARM throttles; other callers are not affected. ARM itself is not limited here: it throttles
// per principal before forwarding, and one bucket for ARM would let one tenant starve all the
// others. Buckets live in the process: with several API replicas each enforces the rate.
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { Authenticator } from './auth.js';
import { ApiError } from './errors.js';

export interface RateLimitSettings {
  /** Sustained requests per second per caller (the refill rate); 0 turns the limit off. */
  requestsPerSecond: number;
  /** Requests a caller may send at once after being idle (the bucket's size). */
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitSettings = { requestsPerSecond: 20, burst: 100 };

/** Buckets kept before full (idle) ones are dropped; a dropped bucket comes back full anyway. */
const MAX_TRACKED = 10_000;

export class TooManyRequestsError extends ApiError {
  constructor(readonly retryAfterSeconds: number) {
    super(
      429,
      GrpcStatus.RESOURCE_EXHAUSTED,
      'TooManyRequests',
      `The number of requests from this caller exceeded the limit; please try again after ${retryAfterSeconds} seconds.`,
    );
  }
}

/** Seconds a refused caller should wait, when err is a rate-limit refusal. */
export function retryAfterOf(err: unknown): number | undefined {
  return err instanceof TooManyRequestsError ? err.retryAfterSeconds : undefined;
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly settings: RateLimitSettings,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(settings.requestsPerSecond > 0) || !(settings.burst >= 1))
      throw new Error('a rate limit needs requestsPerSecond > 0 and burst >= 1');
  }

  /** Takes one token from key's bucket: 0 when granted, else the whole seconds until one is there. */
  take(key: string): number {
    const { requestsPerSecond: rate, burst } = this.settings;
    const now = this.now();
    if (this.buckets.size >= MAX_TRACKED) this.prune(now);
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rate);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rate));
  }

  private prune(now: number): void {
    const { requestsPerSecond: rate, burst } = this.settings;
    for (const [k, b] of this.buckets) if (b.tokens + ((now - b.at) / 1000) * rate >= burst) this.buckets.delete(k);
  }
}

/** The authenticator, then the caller's bucket: what both transports call for every request. */
export function withRateLimit(authenticate: Authenticator, settings: RateLimitSettings | undefined): Authenticator {
  if (!settings || settings.requestsPerSecond <= 0) return authenticate;
  const buckets = new TokenBuckets(settings);
  return async (credentials) => {
    const caller = await authenticate(credentials);
    if (caller.kind === 'arm') return caller;
    const wait = buckets.take(`${caller.kind}:${caller.subject}`);
    if (wait > 0) throw new TooManyRequestsError(wait);
    return caller;
  };
}
