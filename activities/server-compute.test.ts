// The compute activity's client (armServerCompute) against the ARM twin through the official
// @azure/arm-compute SDK: a server's scale set (capacity 1, named after the server) lists its one
// instance; restart starts a new process on the same disk; reimage starts one on a fresh disk at
// the same address; a broken instance (test-only fault) fails its restart and is cured by a reimage.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../devstack/supervisor.js';
import { httpCall } from '../lib/http.js';
import { FAULT_ADMIN_HEADER } from '../apps/local-cloud/src/faults.js';
import { BROKEN_INSTANCES_PATH } from '../apps/local-cloud/src/instance-faults.js';
import { startTestCloud, type TestCloud } from '../apps/local-cloud/src/testing.js';
import { probe, probeInstanceCommand } from '../apps/local-cloud/src/testing-instance.js';
import { createProbeScaleSet } from '../apps/local-cloud/src/testing-scale-set.js';
import { armServerCompute, type ServerCompute } from './server-compute.js';

const RG = 'rg-server-compute';
const SERVER = 'c1-server-0';
let t: TestCloud;
let port: number;
let compute: ServerCompute;
let ip: string;
/** How long a stopped instance is asked before it counts as silent. */
const SILENT_MS = 1_000;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 0, faultInjection: true });
  const vmss = await createProbeScaleSet(t, { resourceGroup: RG, name: SERVER, cidr: '10.22.0.0/16' });
  ip = vmss.ip;
  compute = armServerCompute(vmss.compute);
}, 120_000);
afterAll(async () => {
  await t?.dispose();
});

/** What the instance answers within `timeoutMs` (a short wait where it must stay silent). */
const answers = (timeoutMs?: number) =>
  probe(ip, port, undefined, timeoutMs).then(
    (a) => a,
    () => undefined,
  );

it('lists the server scale set instance, restarts it on the same disk and reimages it on a fresh one at the same address', async () => {
  const ids = await compute.instances(RG, SERVER);
  expect(ids).toHaveLength(1);
  const before = (await answers())!;
  expect(before.boots).toBe(1);

  await compute.act(RG, SERVER, ids[0]!, 'restart');
  const restarted = (await answers())!;
  expect(restarted.pid).not.toBe(before.pid);
  expect(restarted.boots).toBe(2); // the same disk

  await compute.act(RG, SERVER, ids[0]!, 'reimage');
  const reimaged = (await answers())!;
  expect(reimaged.pid).not.toBe(restarted.pid);
  expect(reimaged.boots).toBe(1); // a fresh disk
  expect(reimaged.ip).toBe(ip);
  expect(await compute.instances(RG, 'no-such-server').catch((err: unknown) => String(err))).toMatch(/not|404/i);
}, 120_000);

it('a broken instance: restart fails and it stays down; reimage brings it back', async () => {
  const [id] = await compute.instances(RG, SERVER);
  const vmssId = `/subscriptions/${t.cloud.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachineScaleSets/${SERVER}`;
  const broke = await httpCall(`${t.cloud.url}${BROKEN_INSTANCES_PATH}`, {
    method: 'PUT',
    body: JSON.stringify({ scaleSetId: vmssId, instanceId: id }),
    headers: { 'content-type': 'application/json', [FAULT_ADMIN_HEADER]: t.cloud.controlPlaneIdentity.header },
    ca: t.cloud.caCertPem,
  });
  expect(broke.status, broke.body).toBe(200);
  expect(await answers(SILENT_MS)).toBeUndefined();
  expect(
    await compute.act(RG, SERVER, id!, 'restart').then(
      () => 'done',
      (err: unknown) => String(err),
    ),
  ).not.toBe('done');
  expect(await answers(SILENT_MS)).toBeUndefined();
  await compute.act(RG, SERVER, id!, 'reimage');
  expect((await answers())?.ip).toBe(ip);
}, 180_000);
