// The compute activity's client (armServerCompute) against the ARM twin through the official
// @azure/arm-compute SDK: a server's scale set (capacity 1, named after the server) lists its one
// instance; restart starts a new process on the same disk; reimage starts one on a fresh disk at
// the same address; a broken instance (test-only fault) fails its restart and is cured by a reimage.
import { ComputeManagementClient } from '@azure/arm-compute';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../devstack/supervisor.js';
import { httpCall } from '../lib/http.js';
import { FAULT_ADMIN_HEADER } from '../apps/local-cloud/src/faults.js';
import { BROKEN_INSTANCES_PATH } from '../apps/local-cloud/src/instance-faults.js';
import { startTestCloud, type TestCloud } from '../apps/local-cloud/src/testing.js';
import { probe, probeInstanceCommand } from '../apps/local-cloud/src/testing-instance.js';
import { armServerCompute, type ServerCompute } from './server-compute.js';

const RG = 'rg-server-compute';
const SERVER = 'c1-server-0';
const poll = { updateIntervalInMs: 100 };
let t: TestCloud;
let port: number;
let compute: ServerCompute;
let ip: string;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 0, faultInjection: true });
  const sub = t.cloud.subscriptionId;
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const net = new NetworkManagementClient(t.credential, sub, t.clientOptions);
  const vnet = await net.virtualNetworks.beginCreateOrUpdateAndWait(
    RG,
    'vnet',
    {
      location: 'westeurope',
      addressSpace: { addressPrefixes: ['10.22.0.0/16'] },
      subnets: [{ name: 's', addressPrefix: '10.22.1.0/24' }],
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
  const client = new ComputeManagementClient(t.credential, sub, t.clientOptions);
  await client.virtualMachineScaleSets.createOrUpdate(
    RG,
    SERVER,
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
  for await (const nic of net.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(RG, SERVER))
    ip = nic.ipConfigurations![0]!.privateIPAddress!;
  compute = armServerCompute(client);
}, 120_000);
afterAll(async () => {
  await t?.dispose();
});

const answers = () =>
  probe(ip, port).then(
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
  expect(await answers()).toBeUndefined();
  expect(
    await compute.act(RG, SERVER, id!, 'restart').then(
      () => 'done',
      (err: unknown) => String(err),
    ),
  ).not.toBe('done');
  expect(await answers()).toBeUndefined();
  await compute.act(RG, SERVER, id!, 'reimage');
  expect((await answers())?.ip).toBe(ip);
}, 180_000);
