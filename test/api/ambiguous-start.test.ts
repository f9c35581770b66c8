// Workflow starts that fail (issue 12 item 3, under the outbox of issue 15 item 1): the API
// answers once the operation and its start request committed, whatever Temporal does; its start
// relay (lib/operation-relay.ts) starts the workflow. A start that failed after Temporal accepted
// it counts as started; a start Temporal fails (refused, or not even reachable to ask) leaves the
// operation Accepted, holding the cluster, and its start request waiting: once Temporal is back
// the relay starts the workflow once, or the operation is cancelled before it ever started; only
// a start Temporal refuses for good fails the operation and frees the cluster. The real Temporal
// server and worker run the (stand-in) workflows; only the API's starter is wrapped to fail the
// way a deadline or an outage makes it fail.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import type { OperationStarter } from '../../lib/operation-starter.js';
import { pendingStartRequests } from '../../store/operation-starts.js';
import { listOperations, type OperationRecord } from '../../store/operations.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
type Mode = 'normal' | 'timeout-after-accept' | 'refused' | 'refused-and-unreachable' | 'invalid';
let mode: Mode = 'normal';
let real: OperationStarter;
let cp: ControlPlane;
/** Workflow ids whose start the real Temporal accepted through the API's starter. */
const accepted: string[] = [];

beforeAll(async () => {
  cp = await startControlPlane(stack, {
    starter: (r) => {
      real = r;
      const started = async (input: Parameters<OperationStarter['start']>[0]) => {
        await r.start(input);
        accepted.push(input.workflowId);
      };
      return {
        taskQueue: r.taskQueue,
        async start(input) {
          if (mode === 'timeout-after-accept') {
            await started(input);
            throw Object.assign(new Error('deadline exceeded'), { name: 'ServiceError' });
          }
          // What the client throws for a start Temporal refuses as malformed (gRPC INVALID_ARGUMENT).
          if (mode === 'invalid') throw Object.assign(new Error('invalid start'), { name: 'ServiceError', cause: { code: 3 } });
          if (mode !== 'normal') throw Object.assign(new Error('connection refused'), { name: 'ServiceError' });
          return started(input);
        },
        cancel: (id) => r.cancel(id),
        async find(id) {
          if (mode === 'refused-and-unreachable') throw new Error('Temporal unreachable');
          return r.find(id);
        },
        ping: (ms) => r.ping(ms),
        close: () => r.close(),
      };
    },
  });
});
afterAll(async () => {
  mode = 'normal';
  await cp?.close();
});

async function succeededCluster(name: string, cidr: string): Promise<string> {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg', name);
  mode = 'normal';
  expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, cidr) })).status).toBe(201);
  await waitForState(cp, path, ['Succeeded']);
  return path;
}

const tokenOperation = async (path: string): Promise<OperationRecord> =>
  (await listOperations(cp.db, path.toLowerCase())).find((o) => o.kind === 'token')!;
const startRequestOf = async (operationId: string) =>
  (await pendingStartRequests(cp.db, cp.taskQueue)).find((r) => r.operationId === operationId);
/** Until the operation has one of `statuses` (the relay and the worker work on their own time). */
const untilStatus = (path: string, statuses: string[]) =>
  vi.waitFor(
    async () => {
      const op = await tokenOperation(path);
      expect(statuses).toContain(op.status);
      return op;
    },
    { timeout: 60_000, interval: 100 },
  );

it('a start that timed out after Temporal accepted it counts as started: 201, one workflow, the operation completes', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg', 'late-ack');
  mode = 'timeout-after-accept';
  const put = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.81.0.0/16') });
  expect(put.status).toBe(201);
  // The relay's start, under the failing mode.
  await cp.api.relay.drain();
  mode = 'normal';
  await waitForState(cp, path, ['Succeeded']);
  const ops = await listOperations(cp.db, path.toLowerCase());
  expect(ops.map((o) => `${o.kind}:${o.status}`)).toEqual(['create:Succeeded']);
  // The one workflow Temporal accepted is the one that ran (it closes right after recording success).
  expect(['running', 'closed']).toContain(await real.find(ops[0]!.workflowId));
  expect(accepted.filter((id) => id === ops[0]!.workflowId)).toHaveLength(1);
  expect(await startRequestOf(ops[0]!.operationId)).toBeUndefined();
});

it('a start Temporal fails: 202, the operation stays Accepted with its start request; once Temporal is back the relay starts it once and it completes', async () => {
  const path = await succeededCluster('refused', '10.82.0.0/16');
  mode = 'refused';
  const r = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  expect(r.status).toBe(202);
  await cp.api.relay.drain();
  const pending = await tokenOperation(path);
  expect(pending.status).toBe('Accepted');
  expect(await real.find(pending.workflowId)).toBe('absent');
  const waiting = await startRequestOf(pending.operationId);
  expect(waiting?.lastError).toContain('connection refused');
  expect(waiting?.attempts).toBeGreaterThanOrEqual(1);
  // Temporal is back: the relay tries again after its back-off.
  mode = 'normal';
  await untilStatus(path, ['Succeeded']);
  expect(await startRequestOf(pending.operationId)).toBeUndefined();
  expect(accepted.filter((id) => id === pending.workflowId)).toHaveLength(1);
  expect((await rest(cp, 'POST', `${path}/createRootToken?${V}`)).status).toBe(202);
});

it('a start Temporal refuses for good (INVALID_ARGUMENT) fails the operation (OperationNotStarted) and frees the cluster', async () => {
  const path = await succeededCluster('invalid', '10.84.0.0/16');
  mode = 'invalid';
  const r = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  expect(r.status).toBe(202);
  await cp.api.relay.drain();
  mode = 'normal';
  const failed = await tokenOperation(path);
  expect(failed).toMatchObject({ status: 'Failed', error: { code: 'OperationNotStarted' } });
  expect(await real.find(failed.workflowId)).toBe('absent');
  expect(await startRequestOf(failed.operationId)).toBeUndefined();
  expect((await rest(cp, 'POST', `${path}/createRootToken?${V}`)).status).toBe(202);
});

it('when Temporal cannot be asked, the operation keeps the lock; cancelled, it is Canceling until Temporal can say it has no workflow, then Canceled, and no workflow ever runs', async () => {
  const path = await succeededCluster('unknown', '10.83.0.0/16');
  mode = 'refused-and-unreachable';
  const r = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  expect(r.status).toBe(202);
  await cp.api.relay.drain();
  const pending = await tokenOperation(path);
  expect(pending.status).toBe('Accepted');
  expect((await startRequestOf(pending.operationId))?.attempts).toBeGreaterThanOrEqual(1);
  const blocked = await rest(cp, 'POST', `${path}/createSnapshot?${V}`, { body: {} });
  expect(blocked.status).toBe(409);
  expect(blocked.json.error.message).toContain(pending.operationId);
  const statusPath = `/subscriptions/${path.split('/')[2]}/providers/HCS.Consul/locations/westeurope/operationStatuses/${pending.operationId}`;
  const canceled = await rest(cp, 'POST', `${statusPath}/cancel?${V}`);
  expect(canceled.status).toBe(200);
  // A relay tried its start and Temporal cannot say whether it has the workflow: the operation
  // is Canceling (it still holds the cluster) until Temporal can be asked.
  expect(canceled.json.status).toBe('Canceling');
  expect((await rest(cp, 'POST', `${path}/createSnapshot?${V}`, { body: {} })).status).toBe(409);
  // Temporal is back: the relay's next try finds no workflow and ends it Canceled, starting nothing.
  mode = 'normal';
  await untilStatus(path, ['Canceled']);
  expect(await startRequestOf(pending.operationId)).toBeUndefined();
  expect(await real.find(pending.workflowId)).toBe('absent');
  expect(accepted).not.toContain(pending.workflowId);
  expect((await rest(cp, 'POST', `${path}/createRootToken?${V}`)).status).toBe(202);
});
