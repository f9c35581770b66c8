// The token bucket's arithmetic on a controlled clock (the API-level behaviour, 429 with
// Retry-After on REST and gRPC, is attacked in test/security/quotas.test.ts).
import { describe, expect, it } from 'vitest';
import type { Caller } from './context.js';
import { TokenBuckets, TooManyRequestsError, withRateLimit } from './rate-limit.js';

describe('TokenBuckets', () => {
  it('grants a full burst, then refuses with the whole seconds until the next token, and refills at the rate', () => {
    let now = 0;
    const buckets = new TokenBuckets({ requestsPerSecond: 2, burst: 3 }, () => now);
    expect([buckets.take('a'), buckets.take('a'), buckets.take('a')]).toEqual([0, 0, 0]);
    expect(buckets.take('a')).toBe(1); // half a second to the next token: retry after 1 s
    expect(buckets.take('b')).toBe(0); // another key has its own bucket
    now += 499;
    expect(buckets.take('a')).toBe(1);
    now += 2;
    expect(buckets.take('a')).toBe(0);
    now += 60_000; // idle: refilled to the burst, never beyond
    expect(Array.from({ length: 4 }, () => buckets.take('a'))).toEqual([0, 0, 0, 1]);
  });

  it('rounds a slow rate up to whole seconds', () => {
    let now = 0;
    const buckets = new TokenBuckets({ requestsPerSecond: 0.1, burst: 1 }, () => now);
    expect(buckets.take('a')).toBe(0);
    expect(buckets.take('a')).toBe(10);
    now += 9_500;
    expect(buckets.take('a')).toBe(1);
  });

  it('refuses nonsense settings', () => {
    expect(() => new TokenBuckets({ requestsPerSecond: 0, burst: 1 })).toThrow();
    expect(() => new TokenBuckets({ requestsPerSecond: 1, burst: 0 })).toThrow();
  });
});

describe('withRateLimit', () => {
  const callerFor = (c: { authorization?: string | undefined }): Caller =>
    c.authorization === 'arm'
      ? { subject: 'arm:x', kind: 'arm', role: 'admin', subscriptions: '*' }
      : { subject: `user:${c.authorization}`, kind: 'user', role: 'operator', subscriptions: [] };

  it('limits each caller by subject, leaves ARM alone, and is off without settings', async () => {
    const limited = withRateLimit(async (c) => callerFor(c), { requestsPerSecond: 1, burst: 2 });
    await limited({ authorization: 'alice' });
    await limited({ authorization: 'alice' });
    const refused = await limited({ authorization: 'alice' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect(refused).toMatchObject({ httpStatus: 429, grpcCode: 8, code: 'TooManyRequests', retryAfterSeconds: 1 });
    await expect(limited({ authorization: 'bob' })).resolves.toMatchObject({ subject: 'user:bob' });
    for (let i = 0; i < 10; i++) await limited({ authorization: 'arm' });
    const off = withRateLimit(async (c) => callerFor(c), undefined);
    for (let i = 0; i < 10; i++) await off({ authorization: 'alice' });
  });
});
