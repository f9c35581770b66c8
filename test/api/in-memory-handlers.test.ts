// The REST handlers in-process, with no socket and no Temporal: the API built by buildApi on an
// in-memory PGlite store, driven with fastify's inject(); the workflow starter is an in-memory
// stand-in of our own OperationStarter interface that records what the API's start relay
// (lib/operation-relay.ts) asked it to start or what the API asked it to cancel. What a worker
// would do later (run the workflow) is not here: these tests pin the API's own answers and what
// it writes to the store.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { getCluster } from '../../store/clusters.js';
import { IN_MEMORY_VERSION, inMemoryStarter, useInMemoryApi } from '../support/in-memory-api.js';
import { listOperations } from '../../store/operations.js';
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
  ],
});

const path = (name: string, s = sub) => `/subscriptions/${s}/resourceGroups/rg-mem/providers/HCS.Consul/clusters/${name}`;
const body = (cidr: string, extra: Record<string, unknown> = {}) => ({
  location: 'westeurope',
  properties: { consulVersion: VERSION, serverCount: 3, network: { cidr }, ...extra },
});

async function call(
  method: 'GET' | 'PUT' | 'PATCH' | 'DELETE',
  url: string,
  o: { token?: string; payload?: Record<string, unknown> } = {},
) {
  const res = await mem.rest.inject({
    method,
    url: `${url}?api-version=${API_VERSION}`,
    headers: { authorization: `Bearer ${o.token ?? mem.tokens.operator}` },
    ...(o.payload !== undefined ? { payload: o.payload } : {}),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined };
}

describe('a cluster through the REST handlers, in memory', () => {
  const name = `mem-${randomUUID().slice(0, 6)}`;
  const key = path(name).toLowerCase();

  it('PUT creates: 201, Azure-AsyncOperation, the record and its create operation in the store, its workflow started by the mem.relay once', async () => {
    const put = await call('PUT', path(name), { payload: body('10.90.0.0/16') });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    expect(put.json.properties.provisioningState).toBe('Accepted');
    expect(put.headers.etag).toBe(put.json.etag);

    const ops = await listOperations(mem.db, key);
    expect(ops.map((o) => [o.kind, o.status])).toEqual([['create', 'Accepted']]);
    const op = ops[0]!;
    expect(String(put.headers['azure-asyncoperation'])).toMatch(
      new RegExp(
        `/subscriptions/${sub}/providers/HCS\\.Consul/locations/westeurope/operationStatuses/${op.operationId}\\?api-version=${API_VERSION}$`,
      ),
    );

    const stored = await getCluster(mem.db, key);
    expect(stored?.provisioningState).toBe('Accepted');
    expect(stored?.spec.properties.serverCount).toBe(3);
    expect(stored?.etag).toBe(put.json.etag);

    // The API answered after the commit; its mem.relay starts the workflow (nudged, not awaited).
    await mem.relay.drain();
    expect(await pendingStartRequests(mem.db)).toEqual([]);
    expect(starter.started).toHaveLength(1);
    expect(starter.started[0]).toMatchObject({ kind: 'create', resourceKey: key, operationId: op.operationId, workflowId: op.workflowId });
  });

  it('GET answers the stored cluster with its ETag', async () => {
    const get = await call('GET', path(name));
    expect(get.status).toBe(200);
    expect(get.json).toMatchObject({ name, properties: { consulVersion: VERSION, serverCount: 3, provisioningState: 'Accepted' } });
    expect(get.headers.etag).toBe((await getCluster(mem.db, key))?.etag);
  });

  it('PATCH while the create runs: 409 naming the operation, nothing changed, nothing started', async () => {
    const before = await getCluster(mem.db, key);
    const [create] = await listOperations(mem.db, key);
    const patch = await call('PATCH', path(name), { payload: { properties: { serverCount: 5 } } });
    expect(patch.status).toBe(409);
    expect(patch.json.error.code).toBe('OperationInProgress');
    expect(patch.json.error.message).toContain(create!.operationId);
    expect(await getCluster(mem.db, key)).toEqual(before);
    expect(await listOperations(mem.db, key)).toHaveLength(1);
    await mem.relay.drain();
    expect(starter.started).toHaveLength(1);
  });

  it("another subscription's operator gets 404 for GET, PATCH and DELETE, as for a cluster that does not exist, and changes nothing", async () => {
    const before = await getCluster(mem.db, key);
    const missing = await call('GET', path('no-such-cluster'));
    expect(missing.status).toBe(404);
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      const res = await call(method, path(name), {
        token: mem.tokens.other,
        ...(method === 'PATCH' ? { payload: { tags: { owner: 'intruder' } } } : {}),
      });
      expect(res.status, method).toBe(404);
      expect(res.json.error.code, method).toBe(missing.json.error.code);
    }
    expect(await getCluster(mem.db, key)).toEqual(before);
    expect(await listOperations(mem.db, key)).toHaveLength(1);
    await mem.relay.drain();
    expect(starter.started).toHaveLength(1);
    expect(starter.cancelled).toEqual([]);
  });

  it('DELETE: 202 with Location, the running create asked to stop, the delete recorded behind it and started', async () => {
    const [create] = await listOperations(mem.db, key);
    const del = await call('DELETE', path(name));
    expect(del.status).toBe(202);
    await mem.relay.drain();
    expect(String(del.headers.location)).toContain('/operationResults/');
    expect(String(del.headers['azure-asyncoperation'])).toContain('/operationStatuses/');

    const ops = await listOperations(mem.db, key);
    const deletion = ops.find((o) => o.kind === 'delete');
    // The delete waits (Scheduled, holding no lock) until the create it cancels has ended.
    expect(deletion?.status).toBe('Scheduled');
    expect(ops.find((o) => o.kind === 'create')?.status).toBe('Canceling');
    expect((await getCluster(mem.db, key))?.provisioningState).toBe('Deleting');
    expect(starter.cancelled).toEqual([create!.workflowId]);
    expect(starter.started.map((s) => s.kind)).toEqual(['create', 'delete']);
    expect(starter.started[1]?.workflowId).toBe(deletion?.workflowId);
  });
});

it('a PUT that fails validation answers 400 naming the field and writes and starts nothing', async () => {
  const name = `bad-${randomUUID().slice(0, 6)}`;
  const startedBefore = starter.started.length;
  const put = await call('PUT', path(name), { payload: body('10.91.0.0/16', { serverCount: 4 }) });
  expect(put.status).toBe(400);
  expect(JSON.stringify(put.json.error)).toContain('serverCount');
  expect(await getCluster(mem.db, path(name).toLowerCase())).toBeUndefined();
  expect(await listOperations(mem.db, path(name).toLowerCase())).toEqual([]);
  await mem.relay.drain();
  expect(await pendingStartRequests(mem.db)).toEqual([]);
  expect(starter.started).toHaveLength(startedBefore);
});
