// Issue 17 item 3: the maintenance requests through the REST handlers, in process (buildApi on an
// in-memory PGlite store, fastify's inject(), an in-memory starter of our own OperationStarter
// interface that records what the start relay asked it to start). rotateCertificates,
// restartServer and repairServer answer 202 with Location and Azure-AsyncOperation and record an
// operation of their own kind whose workflow start carries the server and force; a bad
// serverIndex is a 400 naming the cluster's servers, another operation a 409, another
// subscription's operator a 404 and a reader a 403 - and none of those records or starts anything.
// What the workflows then do is in test/workflows/server-maintenance.test.ts and test/lifecycle/.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_TYPE_FOR_KIND } from '../../contract/temporal.js';
import { getCluster, setClusterServers, setProvisioningState } from '../../store/clusters.js';
import { IN_MEMORY_VERSION, inMemoryStarter, useInMemoryApi } from '../support/in-memory-api.js';
import { listOperations, updateOperation } from '../../store/operations.js';
import { pendingStartRequests } from '../../store/operation-starts.js';

const API_VERSION = '2026-11-01';
const VERSION = IN_MEMORY_VERSION;
const [sub, otherSub] = [randomUUID(), randomUUID()];
const starter = inMemoryStarter();
const mem = useInMemoryApi({
  subscriptions: [sub, otherSub],
  starter,
  tokens: [
    { name: 'operator', role: 'operator', subscriptions: [sub] },
    { name: 'other', role: 'operator', subscriptions: [otherSub] },
    { name: 'reader', role: 'reader', subscriptions: [sub] },
  ],
});

const path = (name: string, s = sub) => `/subscriptions/${s}/resourceGroups/rg-maint/providers/HCS.Consul/clusters/${name}`;

async function call(method: 'PUT' | 'POST', url: string, o: { token?: string; payload?: unknown } = {}) {
  const res = await mem.rest.inject({
    method,
    url: `${url}?api-version=${API_VERSION}`,
    headers: { authorization: `Bearer ${o.token ?? mem.tokens.operator}` },
    ...(o.payload !== undefined ? { payload: o.payload as Record<string, unknown> } : {}),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined };
}

/** A provisioned cluster of `serverCount` servers (its create ended, its servers recorded). */
async function provisioned(serverCount: number, cidr: string): Promise<{ name: string; key: string }> {
  const name = `maint-${randomUUID().slice(0, 6)}`;
  const key = path(name).toLowerCase();
  const put = await call('PUT', path(name), {
    payload: { location: 'westeurope', properties: { consulVersion: VERSION, serverCount, network: { cidr } } },
  });
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  for (const op of await listOperations(mem.db, key)) await updateOperation(mem.db, op.operationId, { status: 'Succeeded' });
  await setProvisioningState(mem.db, key, 'Succeeded');
  const servers = [...Array(serverCount).keys()].map((index) => ({
    index,
    name: `${name}-server-${index}`,
    zone: String((index % 3) + 1),
    address: `10.0.0.${index + 4}`,
  }));
  await setClusterServers(mem.db, key, servers, {});
  await mem.relay.drain();
  return { name, key };
}

/** What a refused request must leave behind: the same cluster, operations and started workflows. */
async function unchanged(key: string, run: () => Promise<void>) {
  const before = { cluster: await getCluster(mem.db, key), ops: await listOperations(mem.db, key), started: starter.started.length };
  await run();
  await mem.relay.drain();
  expect(await getCluster(mem.db, key)).toEqual(before.cluster);
  expect(await listOperations(mem.db, key)).toEqual(before.ops);
  expect(starter.started.length).toBe(before.started);
  expect(await pendingStartRequests(mem.db)).toEqual([]);
}

it('every kind the maintenance requests record runs its own production workflow', () => {
  expect(WORKFLOW_TYPE_FOR_KIND.restart).toBe('restartServer');
  expect(WORKFLOW_TYPE_FOR_KIND.repair).toBe('repairServer');
  expect(WORKFLOW_TYPE_FOR_KIND.rotate).toBe('rotateCertificates');
});

describe('restartServer and repairServer', () => {
  let c: { name: string; key: string };
  beforeAll(async () => {
    c = await provisioned(3, '10.93.0.0/16');
  }, 60_000);

  for (const [action, kind] of [
    ['restartServer', 'restart'],
    ['repairServer', 'repair'],
  ] as const) {
    it(`${action}: 202 with Location and Azure-AsyncOperation; a ${kind} operation waiting (Scheduled) for the window, its workflow started with the server and force`, async () => {
      const res = await call('POST', `${path(c.name)}/${action}`, { payload: { serverIndex: 2 } });
      expect(res.status, JSON.stringify(res.json)).toBe(202);
      const ops = (await listOperations(mem.db, c.key)).filter((o) => o.kind === kind);
      expect(ops.map((o) => o.status)).toEqual(['Scheduled']);
      const op = ops[0]!;
      expect(String(res.headers.location)).toContain(`/operationResults/${op.operationId}`);
      expect(String(res.headers['azure-asyncoperation'])).toContain(`/operationStatuses/${op.operationId}`);
      await mem.relay.drain();
      expect(starter.started.at(-1)).toMatchObject({
        kind,
        workflowId: op.workflowId,
        resourceKey: c.key,
        params: { serverIndex: 2, force: false },
      });
      // The next request waits for this one to end.
      await updateOperation(mem.db, op.operationId, { status: 'Succeeded' });
    });
  }

  it('force: true is carried to the workflow', async () => {
    const res = await call('POST', `${path(c.name)}/restartServer`, { payload: { serverIndex: 0, force: true } });
    expect(res.status).toBe(202);
    await mem.relay.drain();
    expect(starter.started.at(-1)).toMatchObject({ kind: 'restart', params: { serverIndex: 0, force: true } });
  });

  it('while that restart is recorded, another maintenance request is 409 naming it, and records nothing', async () => {
    const running = (await listOperations(mem.db, c.key)).find((o) => o.status !== 'Succeeded')!;
    await unchanged(c.key, async () => {
      for (const action of ['restartServer', 'repairServer']) {
        const res = await call('POST', `${path(c.name)}/${action}`, { payload: { serverIndex: 1 } });
        expect(res.status, action).toBe(409);
        expect(res.json.error.code).toBe('OperationInProgress');
        expect(res.json.error.message).toContain(running.operationId);
      }
    });
    await updateOperation(mem.db, running.operationId, { status: 'Succeeded' });
  });

  it('a serverIndex that is not a server of the cluster, a missing one or a bad force: 400 naming the field and the servers, nothing recorded', async () => {
    await unchanged(c.key, async () => {
      for (const [payload, code] of [
        [{ serverIndex: 3 }, 'InvalidServerIndex'],
        [{ serverIndex: -1 }, 'InvalidServerIndex'],
        [{}, 'MissingField'],
        [{ serverIndex: 1, force: 'yes' }, undefined],
      ] as const) {
        for (const action of ['restartServer', 'repairServer']) {
          const res = await call('POST', `${path(c.name)}/${action}`, { payload });
          expect(res.status, `${action} ${JSON.stringify(payload)}`).toBe(400);
          if (code) {
            expect(res.json.error.details?.[0]?.code ?? res.json.error.code).toBe(code);
            expect(JSON.stringify(res.json.error)).toContain('serverIndex');
            expect(JSON.stringify(res.json.error)).toContain('0, 1, 2');
          }
        }
      }
    });
  });

  it("another subscription's operator gets 404 (as for a cluster that does not exist) and the cluster's own reader 403; nothing recorded", async () => {
    await unchanged(c.key, async () => {
      const missing = await call('POST', `${path('no-such-cluster')}/restartServer`, { payload: { serverIndex: 0 } });
      expect(missing.status).toBe(404);
      for (const action of ['restartServer', 'repairServer', 'rotateCertificates']) {
        const payload = action === 'rotateCertificates' ? undefined : { serverIndex: 0, force: true };
        const other = await call('POST', `${path(c.name)}/${action}`, { token: mem.tokens.other, ...(payload ? { payload } : {}) });
        expect(other.status, action).toBe(404);
        expect(other.json.error.code).toBe(missing.json.error.code);
        // The same request through the other subscription's own path finds nothing either.
        const own = await call('POST', `${path(c.name, otherSub)}/${action}`, { token: mem.tokens.other, ...(payload ? { payload } : {}) });
        expect(own.status, action).toBe(404);
        const reader = await call('POST', `${path(c.name)}/${action}`, { token: mem.tokens.reader, ...(payload ? { payload } : {}) });
        expect(reader.status, action).toBe(403);
      }
    });
  });
});

it('repairServer on a cluster of one server: 400 RepairNeedsQuorum (its data is on that server), nothing recorded; restartServer is allowed', async () => {
  const c = await provisioned(1, '10.94.0.0/16');
  await unchanged(c.key, async () => {
    const res = await call('POST', `${path(c.name)}/repairServer`, { payload: { serverIndex: 0, force: true } });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json.error)).toContain('RepairNeedsQuorum');
  });
  const restart = await call('POST', `${path(c.name)}/restartServer`, { payload: { serverIndex: 0 } });
  expect(restart.status).toBe(202);
});

it('rotateCertificates: 202, a rotate operation that starts at once (Accepted) with renewAll, also while a restart waits for its window', async () => {
  const c = await provisioned(3, '10.95.0.0/16');
  const restart = await call('POST', `${path(c.name)}/restartServer`, { payload: { serverIndex: 1 } });
  expect(restart.status).toBe(202);
  const res = await call('POST', `${path(c.name)}/rotateCertificates`);
  expect(res.status, JSON.stringify(res.json)).toBe(202);
  const rotate = (await listOperations(mem.db, c.key)).find((o) => o.kind === 'rotate')!;
  expect(rotate.status).toBe('Accepted');
  expect(String(res.headers.location)).toContain(`/operationResults/${rotate.operationId}`);
  await mem.relay.drain();
  expect(starter.started.at(-1)).toMatchObject({ kind: 'rotate', workflowId: rotate.workflowId, params: { renewAll: true } });
  // A second rotation while the first holds the lock: 409.
  const again = await call('POST', `${path(c.name)}/rotateCertificates`);
  expect(again.status).toBe(409);
});
