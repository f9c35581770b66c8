// Kinds no production workflow runs (maintenance) are refused before anything is recorded: the
// API answers 400 OperationNotAvailable, the caller's write never runs, no operation and no start
// request are recorded (so no relay starts a workflow). On a real store (PGlite, the embedded default).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { getCluster, setProvisioningState, upsertCluster } from '../../../../store/clusters.js';
import { openDatabase, type SqlDatabase } from '../../../../store/database.js';
import { migrate } from '../../../../store/migrate.js';
import { listOperations } from '../../../../store/operations.js';
import type { RequestContext } from '../context.js';
import { pendingStartRequests } from '../../../../store/operation-starts.js';
import { startOperation } from './start-operation.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-unavailable-kinds-'));
let db: SqlDatabase;
const subscriptionId = '00000000-0000-0000-0000-00000000000c';
const id = `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/HCS.Consul/clusters/orders`;
const cluster = { resourceKey: id.toLowerCase(), id, subscriptionId, resourceGroup: 'rg', location: 'westeurope' };
const ctx: RequestContext = {
  requestId: 'r1',
  correlationId: 'c1',
  caller: { subject: 'test', kind: 'operator', role: 'admin', subscriptions: '*' },
  baseUrl: 'https://localhost',
  apiVersion: '2024-01-01',
};

/** The API's dependencies: the store, the task queue its start requests are for, a relay it nudges. */
const deps = () => {
  const nudges: string[] = [];
  return { d: { db, starter: { taskQueue: 'unavailable-kinds' }, relay: { nudge: () => void nudges.push('nudge') } }, nudges };
};

beforeAll(async () => {
  db = await openDatabase({ kind: 'pglite', dataDir: dir });
  await migrate(db);
  await upsertCluster(db, {
    resourceKey: cluster.resourceKey,
    id,
    subscriptionId,
    resourceGroup: 'rg',
    name: 'orders',
    spec: { location: 'westeurope', properties: {} } as never,
    provisioningState: 'Succeeded',
    etag: 'W/"1"',
    systemData: null,
  });
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a maintenance operation is refused with 400 OperationNotAvailable and changes nothing', async () => {
  const { d, nudges } = deps();
  const before = await getCluster(db, cluster.resourceKey);
  let wrote = false;
  const refused = await startOperation(d, {
    ctx,
    cluster,
    kind: 'maintenance',
    write: async (tx) => {
      wrote = true;
      await setProvisioningState(tx, cluster.resourceKey, 'Updating');
    },
  }).catch((err: unknown) => err);
  expect(refused).toMatchObject({ httpStatus: 400, code: 'OperationNotAvailable' });
  expect((refused as Error).message).toMatch(/maintenance operations are not available yet.*Nothing was recorded or started/);
  expect(wrote).toBe(false);
  expect(nudges).toEqual([]);
  expect(await pendingStartRequests(db)).toEqual([]);
  expect(await listOperations(db, cluster.resourceKey)).toEqual([]);
  expect(await getCluster(db, cluster.resourceKey)).toEqual(before);
});

it('a kind with a production workflow is recorded with its start request on the same set-up (the refusal is by kind alone)', async () => {
  const { d, nudges } = deps();
  const op = await startOperation(d, { ctx, cluster, kind: 'update', write: async () => {} });
  expect(nudges).toEqual(['nudge']);
  expect((await listOperations(db, cluster.resourceKey)).map((o) => o.operationId)).toEqual([op.operationId]);
  expect((await pendingStartRequests(db, 'unavailable-kinds')).map((r) => r.operationId)).toEqual([op.operationId]);
});
