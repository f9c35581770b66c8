// The worker's liveness heartbeat (an activity interceptor): a quiet activity task with a
// heartbeat timeout heartbeats every HEARTBEAT_EVERY_MS while it runs; one that heartbeats itself
// (whileHeartbeating, with details) keeps only its own heartbeats; a local activity and one
// without a heartbeat timeout get none. On the SDK's activity environment with a fake clock;
// test/chaos/worker-kill.ts measures what it buys on the real stack (resume after a SIGKILL).
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { HEARTBEAT_EVERY_MS, livenessHeartbeatInterceptor, whileHeartbeating } from './polling.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Runs `fn` as an activity with the interceptor for `ms` of fake time; returns the heartbeats' details. */
async function heartbeatsOf(info: { isLocal?: boolean; heartbeatTimeoutMs?: number }, fn: () => Promise<unknown>, ms: number) {
  const env = new MockActivityEnvironment(info, { interceptors: [livenessHeartbeatInterceptor] });
  const seen: unknown[] = [];
  env.on('heartbeat', (d: unknown) => seen.push(d));
  const done = env.run(fn);
  await vi.advanceTimersByTimeAsync(ms);
  await done;
  return seen;
}

const quiet = (ms: number) => () => new Promise((r) => setTimeout(r, ms));

it('a quiet activity task with a heartbeat timeout heartbeats every interval while it runs, and stops when it ends', async () => {
  const seen = await heartbeatsOf({ heartbeatTimeoutMs: 10_000 }, quiet(HEARTBEAT_EVERY_MS * 3 + 500), HEARTBEAT_EVERY_MS * 6);
  expect(seen).toEqual([undefined, undefined, undefined]);
});

it('an activity heartbeating itself keeps its own heartbeats, with their details', async () => {
  const fn = () => whileHeartbeating(quiet(HEARTBEAT_EVERY_MS * 3 + 500), () => ({ problem: 'no leader yet' }));
  const seen = await heartbeatsOf({ heartbeatTimeoutMs: 10_000 }, fn, HEARTBEAT_EVERY_MS * 4);
  expect(seen).toEqual([{ problem: 'no leader yet' }, { problem: 'no leader yet' }, { problem: 'no leader yet' }]);
});

it('a local activity, or one without a heartbeat timeout, gets none', async () => {
  expect(await heartbeatsOf({ isLocal: true, heartbeatTimeoutMs: 10_000 }, quiet(HEARTBEAT_EVERY_MS * 3), HEARTBEAT_EVERY_MS * 4)).toEqual(
    [],
  );
  expect(await heartbeatsOf({ heartbeatTimeoutMs: undefined }, quiet(HEARTBEAT_EVERY_MS * 3), HEARTBEAT_EVERY_MS * 4)).toEqual([]);
});
