// The operations' outbox on the real store and the real Temporal server (issue 15 item 1): an
// operation and its start request commit together or not at all; relays racing on the same
// requests start each workflow once; a request whose relay died mid-claim is started by another
// after its lease; a request whose operation ended or is being cancelled before its workflow
// started is dropped without a start; a cancel withdraws a request no relay holds; a start
// Temporal refuses for good fails the operation; the worker's own relay starts what its queue
// holds. A worker in this process runs the stand-in workflows on the file's own task queue, so
// started operations run to their end.
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { STAND_IN_WORKFLOW_TYPES } from '../../contract/temporal.js';
import { startWorker, type RunningWorker } from '../../apps/worker/src/worker.js';
import { startOperationRelay, type OperationRelay } from '../../lib/operation-relay.js';
import { recordOperation, temporalOperationStarter, type OperationStarter, type OperationTarget } from '../../lib/operation-starter.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import {
  claimStartRequests,
  deferStartRequest,
  insertStartRequest,
  pendingStartRequests,
  withdrawStartRequest,
} from '../../store/operation-starts.js';
import { beginOperation, getOperation, updateOperation, type OperationRecord } from '../../store/operations.js';
import { newOperation, useStoreDatabase } from '../support/store-fixture.js';

const stack = inject('stack');
const db = useStoreDatabase();
const taskQueue = `outbox-test-${randomUUID()}`;
const payloadCodec = new AesGcmPayloadCodec(parsePayloadKeys(`outbox-1:${randomBytes(32).toString('base64')}`));
let worker: RunningWorker | undefined;
let real: OperationStarter;
const relays: OperationRelay[] = [];

beforeAll(async () => {
  worker = await startWorker({ temporal: stack.temporal, db: db(), taskQueue, payloadCodec });
  real = await temporalOperationStarter({ temporal: stack.temporal, taskQueue, payloadCodec, workflowTypes: STAND_IN_WORKFLOW_TYPES });
});
afterAll(async () => {
  for (const r of relays) await r.stop();
  await real?.close();
  await worker?.shutdown();
});

/** The real starter, counting the starts each relay asks of it by workflow id. */
function counting(): { starter: OperationStarter; starts: string[] } {
  const starts: string[] = [];
  return {
    starts,
    starter: {
      ...real,
      async start(input) {
        starts.push(input.workflowId);
        await real.start(input);
      },
    },
  };
}

/** A relay of the file's task queue that only polls when told (drain), unless `pollMs` says otherwise. */
function relay(starter: OperationStarter, o: { batchSize?: number; pollMs?: number } = {}): OperationRelay {
  const r = startOperationRelay({
    log: pino({ level: process.env.HCS_TEST_VERBOSE ? 'info' : 'warn' }, pino.destination(2)),
    db: db(),
    starter,
    taskQueue,
    pollMs: o.pollMs ?? 3_600_000,
    ...(o.batchSize ? { batchSize: o.batchSize } : {}),
  });
  relays.push(r);
  return r;
}

const target = (): OperationTarget => {
  const id = `/subscriptions/${randomUUID()}/resourceGroups/rg/providers/HCS.Consul/clusters/outbox-${randomUUID().slice(0, 8)}`;
  return { resourceKey: id.toLowerCase(), id, subscriptionId: randomUUID(), resourceGroup: 'rg', location: 'westeurope' };
};

/** An operation recorded as the API records it: with its start request for the file's task queue. */
async function recorded() {
  return recordOperation(db(), { target: target(), kind: 'token', correlationId: randomUUID(), outbox: { taskQueue } });
}
const accepted = async (): Promise<OperationRecord> => (await recorded()).operation;

const requestOf = async (operationId: string) => (await pendingStartRequests(db(), taskQueue)).find((r) => r.operationId === operationId);
const untilEnded = (operationId: string) =>
  vi.waitFor(
    async () => {
      const op = await getOperation(db(), operationId);
      expect(['Succeeded', 'Failed', 'Canceled']).toContain(op?.status);
      return op!;
    },
    { timeout: 60_000, interval: 200 },
  );

it('an operation and its start request commit together, or neither does', async () => {
  const op = await accepted();
  expect(op.status).toBe('Accepted');
  expect(await requestOf(op.operationId)).toMatchObject({ attempts: 0, lastError: null });

  // The start request's insert fails (an empty task queue breaks its check): the operation recorded
  // before it in the same transaction is gone too.
  const operationId = randomUUID();
  await expect(
    recordOperation(db(), { target: target(), kind: 'token', correlationId: 'c', operationId, outbox: { taskQueue: '' } }),
  ).rejects.toThrow(/operation_starts_task_queue_check/);
  expect(await getOperation(db(), operationId)).toBeUndefined();
  expect((await pendingStartRequests(db())).find((r) => r.operationId === operationId)).toBeUndefined();

  // The caller's write fails: neither the operation nor its request is written.
  const other = randomUUID();
  await expect(
    recordOperation(db(), {
      target: target(),
      kind: 'token',
      correlationId: 'c',
      operationId: other,
      outbox: { taskQueue },
      write: async () => {
        throw new Error('the caller write failed');
      },
    }),
  ).rejects.toThrow('the caller write failed');
  expect(await getOperation(db(), other)).toBeUndefined();
  expect(await requestOf(other)).toBeUndefined();
});

it('two relays racing on the same requests start each workflow once, and every operation runs to its end', async () => {
  const ops = await Promise.all(Array.from({ length: 12 }, () => accepted()));
  const [a, b] = [counting(), counting()];
  // Small batches, so the two interleave many claims.
  const [ra, rb] = [relay(a.starter, { batchSize: 2 }), relay(b.starter, { batchSize: 2 })];
  await Promise.all([ra.drain(), rb.drain(), ra.drain(), rb.drain()]);
  const starts = [...a.starts, ...b.starts];
  for (const op of ops) {
    expect(
      starts.filter((id) => id === op.workflowId),
      op.operationId,
    ).toHaveLength(1);
    expect(await requestOf(op.operationId)).toBeUndefined();
  }
  // No workflow at all was asked for twice.
  expect(new Set(starts).size).toBe(starts.length);
  for (const op of ops) expect((await untilEnded(op.operationId)).status).toBe('Succeeded');
});

it("a request claimed by a relay that died is started by another once the claim's lease ran out", async () => {
  const op = await accepted();
  // The dead relay's claim, with a lease that has already run out when the next relay looks.
  const claimed = await claimStartRequests(db(), { taskQueue, limit: 100, leaseMs: 1 });
  expect(claimed.map((c) => c.operationId)).toContain(op.operationId);
  const c = counting();
  const next = relay(c.starter);
  await vi.waitFor(
    async () => {
      await next.drain();
      expect(c.starts).toContain(op.workflowId);
    },
    { timeout: 10_000, interval: 50 },
  );
  expect(c.starts.filter((id) => id === op.workflowId)).toHaveLength(1);
  expect(await requestOf(op.operationId)).toBeUndefined();
  expect((await untilEnded(op.operationId)).status).toBe('Succeeded');
});

it('a request whose operation ended, or is being cancelled, before its workflow started is dropped without a start', async () => {
  const ended = await accepted();
  await updateOperation(db(), ended.operationId, { status: 'Canceled', error: { code: 'OperationCanceled', message: 'test' } });
  const canceling = await accepted();
  await updateOperation(db(), canceling.operationId, { status: 'Canceling' });
  const c = counting();
  await relay(c.starter).drain();
  expect(c.starts.filter((id) => id === ended.workflowId || id === canceling.workflowId)).toEqual([]);
  for (const op of [ended, canceling]) {
    expect(await requestOf(op.operationId)).toBeUndefined();
    expect(await real.find(op.workflowId)).toBe('absent');
  }
  // The one being cancelled ends Canceled: nothing ran.
  expect(await getOperation(db(), canceling.operationId)).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
});

it('a request being cancelled whose workflow a relay started (and died before deleting it) is not ended by the next relay: the workflow is cancelled and ends it', async () => {
  const { operation: op, workflow } = await recorded();
  // The dead relay: it claimed the request and started the workflow, then died.
  await claimStartRequests(db(), { taskQueue, limit: 100, leaseMs: 1 });
  await real.start(workflow);
  await updateOperation(db(), op.operationId, { status: 'Canceling' });
  const c = counting();
  const next = relay(c.starter);
  await vi.waitFor(
    async () => {
      await next.drain();
      expect(await requestOf(op.operationId)).toBeUndefined();
    },
    { timeout: 10_000, interval: 50 },
  );
  expect(c.starts.filter((id) => id === op.workflowId)).toEqual([]);
  // Ended by its own workflow (cancelled, or done before the cancel reached it), never by the
  // relay as if nothing had run.
  const ended = await untilEnded(op.operationId);
  expect(['Canceled', 'Succeeded']).toContain(ended.status);
  expect(ended.error?.message ?? '').not.toContain('before it started');
});

it('a cancel withdraws a request no relay has claimed; one a relay tried before only after Temporal says it has no workflow; one a relay holds is left to the relay', async () => {
  const free = await accepted();
  expect(await db().transaction((tx) => withdrawStartRequest(tx, free.operationId))).toBe('withdrawn');
  expect(await requestOf(free.operationId)).toBeUndefined();
  expect(await db().transaction((tx) => withdrawStartRequest(tx, free.operationId))).toBe('none');

  const tried = await accepted();
  await claimStartRequests(db(), { taskQueue, limit: 100, leaseMs: 1 });
  await deferStartRequest(db(), tried.operationId, 60_000, 'test: Temporal failed');
  expect(await db().transaction((tx) => withdrawStartRequest(tx, tried.operationId))).toBe('tried');
  expect(await requestOf(tried.operationId)).toBeDefined();
  expect(await db().transaction((tx) => withdrawStartRequest(tx, tried.operationId, { afterLookup: true }))).toBe('withdrawn');
  expect(await requestOf(tried.operationId)).toBeUndefined();

  const held = await accepted();
  const claimed = await claimStartRequests(db(), { taskQueue, limit: 100, leaseMs: 60_000 });
  expect(claimed.map((c) => c.operationId)).toContain(held.operationId);
  expect(await db().transaction((tx) => withdrawStartRequest(tx, held.operationId))).toBe('starting');
  expect(await requestOf(held.operationId)).toBeDefined();
  // Clean up: no relay of this file will look at it for a minute.
  for (const op of [tried, held]) await updateOperation(db(), op.operationId, { status: 'Canceled' });
});

it('a start Temporal refuses for good (a workflow id over its length limit) fails the operation with OperationNotStarted', async () => {
  const base = newOperation(target().resourceKey, 'token');
  const op = await db().transaction(async (tx) => {
    const record = await beginOperation(tx, { ...base, workflowId: `too-long-${'x'.repeat(1_100)}` });
    await insertStartRequest(tx, {
      operationId: record.operationId,
      taskQueue,
      workflowId: record.workflowId,
      start: {
        workflowId: record.workflowId,
        resourceGroup: 'rg',
        operationId: record.operationId,
        kind: 'token',
        resourceKey: record.resourceKey,
        resourceId: record.resourceKey,
        subscriptionId: record.subscriptionId,
        correlationId: 'c',
      },
    });
    return record;
  });
  const c = counting();
  await relay(c.starter).drain();
  expect(c.starts).toContain(op.workflowId);
  expect(await getOperation(db(), op.operationId)).toMatchObject({ status: 'Failed', error: { code: 'OperationNotStarted' } });
  expect(await requestOf(op.operationId)).toBeUndefined();
});

it("the worker's own relay (operationRelay) starts the production workflow of a request on its task queue", async () => {
  const queue = `outbox-worker-relay-${randomUUID()}`;
  const { operation: op } = await recordOperation(db(), {
    target: target(),
    kind: 'token',
    correlationId: 'c',
    outbox: { taskQueue: queue },
  });
  const relaying = await startWorker({ temporal: stack.temporal, db: db(), taskQueue: queue, payloadCodec, operationRelay: {} });
  const engine = await temporalOperationStarter({ temporal: stack.temporal, taskQueue: queue, payloadCodec });
  try {
    await vi.waitFor(async () => expect(await engine.find(op.workflowId)).not.toBe('absent'), { timeout: 30_000, interval: 100 });
    expect(await pendingStartRequests(db(), queue)).toEqual([]);
  } finally {
    // Its activities (the lifecycle's) are not registered here: the workflow goes no further.
    await engine.cancel(op.workflowId).catch(() => undefined);
    await updateOperation(db(), op.operationId, { status: 'Canceled' });
    await engine.close();
    await relaying.shutdown();
  }
});
