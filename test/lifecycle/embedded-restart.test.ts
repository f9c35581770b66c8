// The embedded default keeps its promise across a restart (issue 14 item 10): a cluster created
// on a persistent stack, the whole stack stopped (as Ctrl-C stops `npm start`) and started again
// on the same folder, comes back on the same addresses; its server VM syncs from Blob again (the
// endpoint its cloud-init names) and its KV is read and written afterwards.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import type { Stack } from '../../devstack/stack.js';
import { httpCall } from '../../lib/http.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { startPrivateStack } from '../support/private-stack.js';
import { arm, clientAccess, createRootToken, followLocation, lifecycleConfig, type ClusterAccess } from '../support/lifecycle.js';

const shared = inject('stack');
const stackDir = join(shared.dataDir, `embedded-restart-${randomUUID().slice(0, 8)}`);
const databaseName = `hcs_test_restart_${randomUUID().slice(0, 8)}`;
let stack: Stack | undefined;
let cp: ControlPlane | undefined;
let id = '';
let access: ClusterAccess;
let root = '';

beforeAll(async () => {
  stack = await startPrivateStack(shared, stackDir, databaseName);
  cp = await startControlPlane(stack.endpoints, { lifecycle: lifecycleConfig(stack.endpoints) });
}, 300_000);

afterAll(async () => {
  await cp?.close();
  await stack?.stop();
}, 180_000);

const kv = (address: string, method: 'GET' | 'PUT', body?: string) =>
  httpCall(`https://${address}:8501/v1/kv/restart/key${method === 'GET' ? '?raw' : ''}`, {
    method,
    ca: access.caPem,
    headers: { 'x-consul-token': root },
    timeoutInMs: 3_000,
    ...(body === undefined ? {} : { body }),
  });

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

it('creates a cluster and writes its KV', async () => {
  const sub = randomUUID();
  await cp!.registerSubscription(sub);
  id = `/subscriptions/${sub}/resourceGroups/rg-restart/providers/HCS.Consul/clusters/restart-${randomUUID().slice(0, 6)}`;
  const put = await arm(cp!, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion: shared.tools.consulVersions.at(-1), serverCount: 1, network: { cidr: '10.66.0.0/16' } },
  });
  expect(put.status, put.body).toBe(201);
  const done = await followLocation(cp!, String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'));
  expect(done.status, done.body).toBe(200);
  access = await clientAccess(cp!, id);
  root = (await createRootToken(cp!, id)).secretId;
  const w = await kv(access.addresses[0]!, 'PUT', 'before');
  expect(w.status, w.body).toBe(200);
}, 600_000);

it('stops the whole stack and starts it again: same addresses, the server syncs from Blob, KV reads and writes', async () => {
  const before = stack!.endpoints;
  const portsBefore = readFileSync(join(stackDir, 'ports.json'), 'utf8');
  const restartOf = { taskQueue: cp!.taskQueue, payloadKeys: cp!.payloadKeys };
  // Ctrl-C: every process stops (the store database stays; stack.stop() would drop it).
  await cp!.close();
  cp = undefined;
  await stack!.supervisor.stop();
  const address = access.addresses[0]!;
  await expect(kv(address, 'GET')).rejects.toThrow();

  stack = await startPrivateStack(shared, stackDir, databaseName);
  const after = stack.endpoints;
  expect(readFileSync(join(stackDir, 'ports.json'), 'utf8')).toBe(portsBefore);
  expect({ blob: after.blob.url, vault: after.vault.address, temporal: after.temporal.address, cloud: after.cloud.url }).toEqual({
    blob: before.blob.url,
    vault: before.vault.address,
    temporal: before.temporal.address,
    cloud: before.cloud.url,
  });
  cp = await startControlPlane(after, { lifecycle: lifecycleConfig(after), restartOf });

  // The twin starts the instance again; its host-manager syncs from Blob (not only its last-good copy).
  const status = await until(
    'the server VM to sync from Blob and run Consul',
    async () => {
      const s = JSON.parse((await httpCall(`http://${address}:9701/status`, { timeoutInMs: 2_000 })).body) as {
        source?: string;
        consulRunning?: boolean;
        lastError?: string;
      };
      return s.source === 'blob' && s.consulRunning ? s : undefined;
    },
    120_000,
  );
  expect(status.lastError ?? '').not.toMatch(/ECONNREFUSED/);
  const read = await until(
    'KV written before the restart',
    async () => ((await kv(address, 'GET')).body === 'before' ? true : undefined),
    120_000,
  );
  expect(read).toBe(true);
  expect((await kv(address, 'PUT', 'after')).status).toBe(200);
  expect((await kv(address, 'GET')).body).toBe('after');

  const got = await arm(cp, 'GET', id);
  expect(got.status, got.body).toBe(200);
  expect((JSON.parse(got.body) as { properties: { provisioningState: string } }).properties.provisioningState).toBe('Succeeded');
}, 600_000);
