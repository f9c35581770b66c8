// The test-only "broken for good" instance fault: through the official @azure/arm-compute client,
// a broken instance's process is gone, the fleet does not bring it back, a restart action fails
// (the VM does not boot), and a reimage - a fresh disk on a healthy host - makes it run again at
// the same address. Without the admin secret the route answers 401 and breaks nothing.
import { ComputeManagementClient } from '@azure/arm-compute';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../../devstack/supervisor.js';
import { httpCall } from '../../../lib/http.js';
import { FAULT_ADMIN_HEADER } from './faults.js';
import { BROKEN_INSTANCES_PATH } from './instance-faults.js';
import { startTestCloud, type TestCloud } from './testing.js';
import { probe, probeInstanceCommand } from './testing-instance.js';

const RG = 'rg-broken';
const poll = { updateIntervalInMs: 100 };
let t: TestCloud;
let port: number;
let vmssId: string;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 0, faultInjection: true });
  const sub = t.cloud.subscriptionId;
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vnet = await new NetworkManagementClient(t.credential, sub, t.clientOptions).virtualNetworks.beginCreateOrUpdateAndWait(
    RG,
    'vnet',
    {
      location: 'westeurope',
      addressSpace: { addressPrefixes: ['10.21.0.0/16'] },
      subnets: [{ name: 's', addressPrefix: '10.21.1.0/24' }],
    },
    poll,
  );
  const identity = await new ManagedServiceIdentityClient(t.credential, sub, t.clientOptions).userAssignedIdentities.createOrUpdate(
    RG,
    'id',
    {
      location: 'westeurope',
    },
  );
  const created = await compute().virtualMachineScaleSets.createOrUpdate(
    RG,
    'server-0',
    {
      location: 'westeurope',
      sku: { name: 'Standard_B2s', tier: 'Standard', capacity: 1 },
      zones: ['1'],
      identity: { type: 'UserAssigned', userAssignedIdentities: { [identity.id!]: {} } },
      upgradePolicy: { mode: 'Manual' },
      virtualMachineProfile: {
        osProfile: { computerNamePrefix: 'server', adminUsername: 'azureuser', customData: Buffer.from('x').toString('base64') },
        networkProfile: {
          networkInterfaceConfigurations: [
            { name: 'nic', primary: true, ipConfigurations: [{ name: 'ip', subnet: { id: vnet.subnets![0]!.id! } }] },
          ],
        },
      },
    },
    poll,
  );
  vmssId = created.id!;
}, 120_000);
afterAll(async () => {
  await t?.dispose();
});

const compute = () => new ComputeManagementClient(t.credential, t.cloud.subscriptionId, t.clientOptions);
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
const answers = (ip: string) =>
  probe(ip, port).then(
    () => true,
    () => false,
  );

it('a broken instance stays down, its restart fails, a reimage brings it back at the same address', async () => {
  const ip = await address();
  expect(await answers(ip)).toBe(true);

  // Without the admin secret: 401, nothing broken. A body naming no instance: 400 / 404.
  expect((await admin('PUT', { scaleSetId: vmssId, instanceId: '0' }, null)).status).toBe(401);
  expect(await answers(ip)).toBe(true);
  expect((await admin('PUT', { scaleSetId: vmssId })).status).toBe(400);
  expect((await admin('PUT', { scaleSetId: vmssId, instanceId: '9' })).status).toBe(404);

  const broke = await admin('PUT', { scaleSetId: vmssId, instanceId: '0' });
  expect(broke.status, broke.body).toBe(200);
  expect(await answers(ip)).toBe(false);
  // The fleet restarts a dead process within seconds; a broken one stays down.
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await answers(ip)).toBe(false);

  const restart = await compute()
    .virtualMachineScaleSetVMs.restart(RG, 'server-0', '0', poll)
    .then(
      () => 'done',
      (err: unknown) => String(err),
    );
  expect(restart).not.toBe('done');
  expect(await answers(ip)).toBe(false);

  await compute().virtualMachineScaleSetVMs.reimage(RG, 'server-0', '0', poll);
  expect(await answers(ip)).toBe(true);
  expect(await address()).toBe(ip);
  expect(JSON.parse((await admin('GET')).body)).toEqual({ broken: [] });
}, 120_000);
