// The worker's failure backoff (an activity interceptor): a heartbeating activity's own failures
// carry their next retry delay - 2, 4, 8 ... 60 s by attempt - with the message, type, details
// and cause they had; non-retryable failures, cancellations and activities on any other retry
// policy are left alone. On the SDK's activity environment; test/workflows/retry-backoff.test.ts
// shows the real Temporal server honouring both schedules.
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { expect, it } from 'vitest';
import { failureRetryDelayMs, heartbeatingRetry } from '../contract/retry.js';
import { failureBackoffInterceptor } from './retry-delay.js';

class ConsulUnavailable extends Error {}

/** Runs `fn` as an activity attempt under the interceptor; returns what it threw. */
async function thrownBy(info: Record<string, unknown>, fn: () => Promise<unknown>): Promise<unknown> {
  const env = new MockActivityEnvironment(info, { interceptors: [failureBackoffInterceptor], logger: new DefaultLogger('ERROR') });
  return env.run(fn).then(
    () => expect.unreachable('the activity should have failed'),
    (err: unknown) => err,
  );
}

const heartbeating = (attempt: number) => ({ attempt, heartbeatTimeoutMs: 10_000, retryPolicy: heartbeatingRetry(8) });

it('the backoff doubles from 2 s per attempt and stops growing at a minute', () => {
  expect([1, 2, 3, 4, 5, 6, 7, 12].map(failureRetryDelayMs)).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
});

it("a plain error becomes the failure the SDK would make of it, with its attempt's delay", async () => {
  const cause = new Error('connect ECONNREFUSED');
  const err = await thrownBy(heartbeating(3), async () => {
    throw new ConsulUnavailable('Consul did not answer', { cause });
  });
  expect(err).toBeInstanceOf(ApplicationFailure);
  const f = err as ApplicationFailure;
  expect([f.message, f.type, f.nonRetryable, f.nextRetryDelay, f.cause]).toEqual([
    'Consul did not answer',
    'ConsulUnavailable',
    false,
    8_000,
    cause,
  ]);
  expect(f.stack).toContain('retry-delay.test.ts');
});

it('a retryable ApplicationFailure keeps its type, details and category and gains the delay', async () => {
  const err = (await thrownBy(heartbeating(1), async () => {
    throw ApplicationFailure.create({ message: 'no leader yet', type: 'ClusterNotHealthy', details: [{ problem: '2 voters' }] });
  })) as ApplicationFailure;
  expect([err.message, err.type, err.details, err.nextRetryDelay]).toEqual([
    'no leader yet',
    'ClusterNotHealthy',
    [{ problem: '2 voters' }],
    2_000,
  ]);
});

it('a non-retryable failure, one with its own delay and a cancellation pass through as they are', async () => {
  const final = ApplicationFailure.nonRetryable('the cluster is gone', 'ClusterNotFound');
  expect(await thrownBy(heartbeating(2), async () => Promise.reject(final))).toBe(final);
  const own = ApplicationFailure.create({ message: 'throttled', nextRetryDelay: 30_000 });
  expect(await thrownBy(heartbeating(2), async () => Promise.reject(own))).toBe(own);
  const cancelled = new CancelledFailure('cancelled');
  expect(await thrownBy(heartbeating(2), async () => Promise.reject(cancelled))).toBe(cancelled);
});

it('an activity on an exponential retry policy, or a local one, keeps the SDK default (no delay of ours)', async () => {
  const exponential = { attempt: 3, retryPolicy: { initialInterval: 1_000, backoffCoefficient: 2 } };
  const plain = new ConsulUnavailable('down');
  expect(await thrownBy(exponential, async () => Promise.reject(plain))).toBe(plain);
  expect(await thrownBy({ ...heartbeating(3), isLocal: true }, async () => Promise.reject(plain))).toBe(plain);
});
