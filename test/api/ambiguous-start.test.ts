// Issue 12, item 3 (ambiguous workflow starts): a start that fails after Temporal accepted the
// workflow counts as started; a start Temporal never saw fails the operation and frees the
// cluster; when Temporal cannot even be asked, the operation keeps the lock until it is confirmed
// or cancelled. The real Temporal server and worker run the (stand-in) workflows; only the API's
// starter is wrapped to fail the way a deadline or an outage makes it fail.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { OperationStarter } from '../../lib/operation-starter.js';
import { listOperations } from '../../store/operations.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
type Mode = 'normal' | 'timeout-after-accept' | 'refused' | 'refused-and-unreachable';
let mode: Mode = 'normal';
let real: OperationStarter;
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane(stack, {
    starter: (r) => {
      real = r;
      return {
        async start(input) {
          if (mode === 'timeout-after-accept') {
            await r.start(input);
            throw Object.assign(new Error('deadline exceeded'), { name: 'ServiceError' });
          }
          if (mode !== 'normal') throw Object.assign(new Error('connection refused'), { name: 'ServiceError' });
          return r.start(input);
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

it('a start that timed out after Temporal accepted it counts as started: 201, one workflow, the operation completes', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg', 'late-ack');
  mode = 'timeout-after-accept';
  const put = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.81.0.0/16') });
  mode = 'normal';
  expect(put.status).toBe(201);
  await waitForState(cp, path, ['Succeeded']);
  const ops = await listOperations(cp.db, path.toLowerCase());
  expect(ops.map((o) => `${o.kind}:${o.status}`)).toEqual(['create:Succeeded']);
  // The one workflow Temporal accepted is the one that ran (it closes right after recording success).
  expect(['running', 'closed']).toContain(await real.find(ops[0]!.workflowId));
});

it('a start Temporal never saw fails the operation and frees the cluster', async () => {
  const path = await succeededCluster('refused', '10.82.0.0/16');
  mode = 'refused';
  const r = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  mode = 'normal';
  expect(r.status).toBe(503);
  const failed = (await listOperations(cp.db, path.toLowerCase())).find((o) => o.kind === 'token')!;
  expect(failed).toMatchObject({ status: 'Failed', error: { code: 'OperationNotStarted' } });
  expect(await real.find(failed.workflowId)).toBe('absent');
  expect((await rest(cp, 'POST', `${path}/createRootToken?${V}`)).status).toBe(202);
});

it('when Temporal cannot be asked, the operation keeps the lock until it is cancelled', async () => {
  const path = await succeededCluster('unknown', '10.83.0.0/16');
  mode = 'refused-and-unreachable';
  const r = await rest(cp, 'POST', `${path}/createRootToken?${V}`);
  mode = 'normal';
  expect(r.status).toBe(503);
  const pending = (await listOperations(cp.db, path.toLowerCase())).find((o) => o.kind === 'token')!;
  expect(pending.status).toBe('Accepted');
  expect(r.json.error.message).toContain(pending.operationId);
  const blocked = await rest(cp, 'POST', `${path}/createSnapshot?${V}`, { body: {} });
  expect(blocked.status).toBe(409);
  expect(blocked.json.error.message).toContain(pending.operationId);
  const statusPath = `/subscriptions/${path.split('/')[2]}/providers/HCS.Consul/locations/westeurope/operationStatuses/${pending.operationId}`;
  const canceled = await rest(cp, 'POST', `${statusPath}/cancel?${V}`);
  expect(canceled.status).toBe(200);
  expect(canceled.json.status).toBe('Canceled');
  expect((await rest(cp, 'POST', `${path}/createRootToken?${V}`)).status).toBe(202);
});
