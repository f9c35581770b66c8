// The two retry schedules of an operation's heartbeating activities on the real Temporal server
// (issue 15 item 6): an attempt lost with its worker runs again a second after its heartbeat
// timeout on every attempt - the wait does not grow with the attempt number - while the
// activity's own failures wait 2 s, then 4 s (the worker's failure backoff interceptor, which
// the product's worker and this one install). test/chaos/worker-kill.ts measures the first
// with SIGKILLed workers.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { failureBackoffInterceptor } from '../../activities/retry-delay.js';
import { useTemporalClient } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const client = useTemporalClient(stack);
const taskQueue = `retry-backoff-${randomUUID()}`;

/** When each attempt of each activity started, in ms since the epoch. */
const starts: Record<string, number[]> = { loseWorker: [], failTwice: [], failFinally: [] };
const attempt = (name: string) => {
  starts[name]!.push(Date.now());
  return Context.current().info.attempt;
};

let worker: Worker | undefined;
let running: Promise<void> = Promise.resolve();
beforeAll(async () => {
  worker = await Worker.create({
    connection: await NativeConnection.connect({ address: stack.temporal.address }),
    namespace: stack.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../fixtures/retry-workflows.ts', import.meta.url)),
    interceptors: { activity: [failureBackoffInterceptor] },
    activities: {
      async loseWorker() {
        const n = attempt('loseWorker');
        // Quiet past the heartbeat timeout: Temporal gives the attempt up, as for a dead worker.
        if (n < 4) await new Promise((r) => setTimeout(r, 3_000));
        return n;
      },
      async failTwice() {
        const n = attempt('failTwice');
        if (n < 3) throw new Error(`the vault is sealed (attempt ${n})`);
        return n;
      },
      async failFinally() {
        attempt('failFinally');
        throw ApplicationFailure.create({ message: 'the cluster was deleted', type: 'ClusterNotFound' });
      },
    },
  });
  running = worker.run();
});
afterAll(async () => {
  worker?.shutdown();
  await running;
});

const run = (which: string) =>
  client.workflow.execute('retryProbe', { taskQueue, workflowId: `retry-probe/${randomUUID()}`, args: [which] });
const gapsOf = (t: number[]) => t.slice(1).map((at, i) => (at - t[i]!) / 1000);

it('an attempt lost with its worker runs again about a second after its heartbeat timeout, however many were lost before', async () => {
  expect(await run('loseWorker')).toBe(4);
  const gaps = gapsOf(starts.loseWorker!);
  expect(gaps).toHaveLength(3);
  // 2 s heartbeat timeout + 1 s; the exponential policy this replaced waited 2+2, 2+4, 2+8 s.
  for (const gap of gaps) {
    expect(gap).toBeGreaterThanOrEqual(2.5);
    expect(gap).toBeLessThan(5);
  }
}, 60_000);

it("an activity's own failures wait 2 s, then 4 s (the worker's backoff, not the policy's constant second)", async () => {
  expect(await run('failTwice')).toBe(3);
  const [first, second] = gapsOf(starts.failTwice!);
  expect(first).toBeGreaterThanOrEqual(1.9);
  expect(first).toBeLessThan(3.5);
  expect(second).toBeGreaterThanOrEqual(3.9);
  expect(second).toBeLessThan(5.5);
}, 60_000);

it('a non-retryable failure type ends the workflow on its first attempt, its type and message kept', async () => {
  const err = await run('failFinally').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const failure = (err as WorkflowFailedError).cause?.cause as ApplicationFailure;
  expect([failure.type, failure.message]).toEqual(['ClusterNotFound', 'the cluster was deleted']);
  expect(starts.failFinally).toHaveLength(1);
}, 60_000);
