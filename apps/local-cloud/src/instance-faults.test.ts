// The test-only "broken for good" instance fault: through the official @azure/arm-compute client,
// a broken instance's process is gone, the fleet does not bring it back, a restart action fails
// (the VM does not boot), and a reimage - a fresh disk on a healthy host - makes it run again at
// the same address. Without the admin secret the route answers 401 and breaks nothing.
import { NetworkManagementClient } from '@azure/arm-network';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../../devstack/supervisor.js';
import { httpCall } from '../../../lib/http.js';
import { FAULT_ADMIN_HEADER } from './faults.js';
import { BROKEN_INSTANCES_PATH } from './instance-faults.js';
import { startTestCloud, type TestCloud } from './testing.js';
import { probe, probeInstanceCommand } from './testing-instance.js';
import { createProbeScaleSet, type ProbeScaleSet } from './testing-scale-set.js';

const RG = 'rg-broken';
const poll = { updateIntervalInMs: 100 };
/** How long a stopped instance is asked before it counts as silent. */
const SILENT_MS = 1_000;
let t: TestCloud;
let port: number;
let vmss: ProbeScaleSet;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 0, faultInjection: true });
  vmss = await createProbeScaleSet(t, { resourceGroup: RG, name: 'server-0', cidr: '10.21.0.0/16' });
}, 120_000);
afterAll(async () => {
  await t?.dispose();
});

const compute = () => vmss.compute;
const admin = (method: string, body?: unknown, secret: string | null = t.cloud.controlPlaneIdentity.header) =>
  httpCall(`${t.cloud.url}${BROKEN_INSTANCES_PATH}`, {
    method,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    headers: { 'content-type': 'application/json', ...(secret !== null ? { [FAULT_ADMIN_HEADER]: secret } : {}) },
    ca: t.cloud.caCertPem,
  });
async function address(): Promise<string> {
  const net = new NetworkManagementClient(t.credential, t.cloud.subscriptionId, t.clientOptions);
  for await (const nic of net.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(RG, 'server-0'))
    return nic.ipConfigurations![0]!.privateIPAddress!;
  throw new Error('no NIC');
}
/** Whether the instance answers within `timeoutMs` (a short wait where it must stay silent). */
const answers = (ip: string, timeoutMs?: number) =>
  probe(ip, port, undefined, timeoutMs).then(
    () => true,
    () => false,
  );

it('a broken instance stays down, its restart fails, a reimage brings it back at the same address', async () => {
  const ip = await address();
  expect(await answers(ip)).toBe(true);

  // Without the admin secret: 401, nothing broken. A body naming no instance: 400 / 404.
  expect((await admin('PUT', { scaleSetId: vmss.id, instanceId: '0' }, null)).status).toBe(401);
  expect(await answers(ip)).toBe(true);
  expect((await admin('PUT', { scaleSetId: vmss.id })).status).toBe(400);
  expect((await admin('PUT', { scaleSetId: vmss.id, instanceId: '9' })).status).toBe(404);

  const broke = await admin('PUT', { scaleSetId: vmss.id, instanceId: '0' });
  expect(broke.status, broke.body).toBe(200);
  expect(await answers(ip, SILENT_MS)).toBe(false);
  // The fleet restarts a dead process within seconds; a broken one stays down.
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await answers(ip, SILENT_MS)).toBe(false);

  const restart = await compute()
    .virtualMachineScaleSetVMs.restart(RG, 'server-0', '0', poll)
    .then(
      () => 'done',
      (err: unknown) => String(err),
    );
  expect(restart).not.toBe('done');
  expect(await answers(ip, SILENT_MS)).toBe(false);

  await compute().virtualMachineScaleSetVMs.reimage(RG, 'server-0', '0', poll);
  expect(await answers(ip)).toBe(true);
  expect(await address()).toBe(ip);
  expect(JSON.parse((await admin('GET')).body)).toEqual({ broken: [] });
}, 120_000);
