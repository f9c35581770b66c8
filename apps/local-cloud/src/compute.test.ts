// Scale sets through the official @azure/arm-compute client, unmodified: create (PUT + its
// long-running-operation poller), list, get, instance view, restart and reimage pollers. Every
// instance is a real process on its own loopback address; one killed with SIGKILL comes back;
// everything survives a twin restart. Managed identities get tokens through
// ManagedIdentityCredential and reach only what a role assignment grants.
import { ComputeManagementClient, type VirtualMachineScaleSet } from '@azure/arm-compute';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../devstack/supervisor.js';
import { startTestCloud, type TestCloud } from './testing.js';
import { probe, probeInstanceCommand } from './testing-instance.js';

const RG = 'rg-consul';
const READER = '/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7';
const poll = { updateIntervalInMs: 100 };
let t: TestCloud;
let port: number;
let sub: string;
let subnetId: string;
let identityId: string;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 0 });
  sub = t.cloud.subscriptionId;
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vnet = await new NetworkManagementClient(t.credential, sub, t.clientOptions).virtualNetworks.beginCreateOrUpdateAndWait(
    RG,
    'vnet',
    {
      location: 'westeurope',
      addressSpace: { addressPrefixes: ['10.20.0.0/16'] },
      subnets: [{ name: 'servers', addressPrefix: '10.20.1.0/24' }],
    },
    poll,
  );
  subnetId = vnet.subnets![0]!.id!;
  const identity = await new ManagedServiceIdentityClient(t.credential, sub, t.clientOptions).userAssignedIdentities.createOrUpdate(
    RG,
    'consul-id',
    {
      location: 'westeurope',
    },
  );
  identityId = identity.id!;
});
afterAll(async () => {
  await t?.dispose();
});

const compute = () => new ComputeManagementClient(t.credential, sub, t.clientOptions);

function scaleSet(capacity: number, zones: string[], customData: string): VirtualMachineScaleSet {
  return {
    location: 'westeurope',
    sku: { name: 'Standard_B2s', tier: 'Standard', capacity },
    zones,
    identity: { type: 'UserAssigned', userAssignedIdentities: { [identityId]: {} } },
    upgradePolicy: { mode: 'Manual' },
    virtualMachineProfile: {
      osProfile: { computerNamePrefix: 'consul', adminUsername: 'azureuser', customData: Buffer.from(customData).toString('base64') },
      storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' } },
      networkProfile: {
        networkInterfaceConfigurations: [
          { name: 'nic', primary: true, ipConfigurations: [{ name: 'ipconfig', subnet: { id: subnetId } }] },
        ],
      },
    },
  };
}

async function instanceIps(vmss: string): Promise<Map<string, string>> {
  const ips = new Map<string, string>();
  const net = new NetworkManagementClient(t.credential, sub, t.clientOptions);
  for await (const nic of net.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(RG, vmss)) {
    const instanceId = nic.virtualMachine!.id!.split('/').pop()!;
    ips.set(instanceId, nic.ipConfigurations![0]!.privateIPAddress!);
  }
  return ips;
}

describe('a 3-instance scale set across zones 1, 2, 3', () => {
  let ips: Map<string, string>;

  it('is created through the SDK poller, each instance a process on its own address', async () => {
    const created = await compute().virtualMachineScaleSets.createOrUpdate(RG, 'consul', scaleSet(3, ['1', '2', '3'], 'servers=3'), poll);
    expect(created).toMatchObject({ name: 'consul', provisioningState: 'Succeeded', zones: ['1', '2', '3'], sku: { capacity: 3 } });
    expect(created.identity?.userAssignedIdentities?.[identityId]?.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.virtualMachineProfile?.osProfile?.customData).toBeUndefined();

    ips = await instanceIps('consul');
    expect(new Set(ips.values()).size).toBe(3);
    for (const ip of ips.values()) expect(ip).toMatch(/^127\.0\.\d+\.\d+$/);
    const answers = await Promise.all([...ips.values()].map((ip) => probe(ip, port)));
    expect(answers.map((a) => a.zone).sort()).toEqual(['1', '2', '3']);
    for (const a of answers) {
      expect(a.customData).toBe('servers=3');
      expect(a.customDataMode).toBe('600');
      expect(a.boots).toBe(1);
      expect(a.name).toMatch(/^consul00000[0-2]$/);
    }
  });

  it('lists instances, gets one and its instance view', async () => {
    const vms = [];
    for await (const vm of compute().virtualMachineScaleSetVMs.list(RG, 'consul')) vms.push(vm);
    expect(vms.map((v) => v.instanceId).sort()).toEqual(['0', '1', '2']);
    expect(vms.map((v) => v.zones?.[0]).sort()).toEqual(['1', '2', '3']);
    const vm = await compute().virtualMachineScaleSetVMs.get(RG, 'consul', '1');
    expect(vm).toMatchObject({ name: 'consul_1', instanceId: '1', provisioningState: 'Succeeded', latestModelApplied: true });
    const view = await compute().virtualMachineScaleSetVMs.getInstanceView(RG, 'consul', '1');
    expect(view.statuses?.map((s) => s.code)).toEqual(['ProvisioningState/succeeded', 'PowerState/running']);
    expect(view.computerName).toBe('consul000001');
  });

  it('restarts one instance through the SDK poller', async () => {
    const ip = ips.get('0')!;
    const before = await probe(ip, port);
    await compute().virtualMachineScaleSetVMs.restart(RG, 'consul', '0', poll);
    const after = await probe(ip, port);
    expect(after.pid).not.toBe(before.pid);
    expect(after.boots).toBe(2); // same disk
    const view = await compute().virtualMachineScaleSetVMs.getInstanceView(RG, 'consul', '0');
    expect(view.statuses?.[1]?.code).toBe('PowerState/running');
  });

  it('reimages one instance through the SDK poller: fresh disk, same address', async () => {
    const ip = ips.get('1')!;
    const before = await probe(ip, port);
    await compute().virtualMachineScaleSetVMs.reimage(RG, 'consul', '1', poll);
    const after = await probe(ip, port);
    expect(after.pid).not.toBe(before.pid);
    expect(after.boots).toBe(1); // the disk was wiped
    expect(after.ip).toBe(ip);
  });

  it('restarts an instance whose process is killed, as Azure restarts a failed VM', async () => {
    const ip = ips.get('2')!;
    const before = await probe(ip, port);
    process.kill(before.pid, 'SIGKILL');
    const after = await probe(ip, port, (a) => a.pid !== before.pid);
    expect(after.boots).toBe(before.boots + 1);
  });

  it('restarts the whole scale set through its own restart poller', async () => {
    const before = await Promise.all([...ips.values()].map((ip) => probe(ip, port)));
    await compute().virtualMachineScaleSets.restart(RG, 'consul', { vmInstanceIDs: { instanceIds: ['0', '2'] }, ...poll });
    const after = await Promise.all([...ips.values()].map((ip) => probe(ip, port)));
    expect(after[0]!.pid).not.toBe(before[0]!.pid);
    expect(after[1]!.pid).toBe(before[1]!.pid);
    expect(after[2]!.pid).not.toBe(before[2]!.pid);
  });

  it('keeps resources and instances across a twin restart', async () => {
    const before = await Promise.all([...ips.values()].map((ip) => probe(ip, port)));
    await t.restart();
    const vmss = await compute().virtualMachineScaleSets.get(RG, 'consul');
    expect(vmss.provisioningState).toBe('Succeeded');
    expect(await instanceIps('consul')).toEqual(ips);
    const after = await Promise.all([...ips.values()].map((ip) => probe(ip, port)));
    after.forEach((a, i) => {
      expect(a.pid).not.toBe(before[i]!.pid);
      expect(a.boots).toBe(before[i]!.boots + 1);
    });
  });

  it('deletes one instance (capacity drops), then the scale set (processes stop)', async () => {
    await compute().virtualMachineScaleSetVMs.delete(RG, 'consul', '2', poll);
    expect((await compute().virtualMachineScaleSets.get(RG, 'consul')).sku?.capacity).toBe(2);
    await expect(probe(ips.get('2')!, port, undefined, 1_000)).rejects.toThrow();
    await compute().virtualMachineScaleSets.delete(RG, 'consul', poll);
    await expect(compute().virtualMachineScaleSets.get(RG, 'consul')).rejects.toMatchObject({ statusCode: 404 });
    await expect(probe(ips.get('0')!, port, undefined, 1_000)).rejects.toThrow();
  });
});

describe('scaling', () => {
  it('adds instances balanced over zones and deletes chosen ones (capacity follows)', async () => {
    await compute().virtualMachineScaleSets.createOrUpdate(RG, 'scaler', scaleSet(2, ['1', '2'], 'scale'), poll);
    const updated = await compute().virtualMachineScaleSets.update(RG, 'scaler', { sku: { capacity: 4 } }, poll);
    expect(updated).toMatchObject({ provisioningState: 'Succeeded', sku: { capacity: 4 } });
    const zones: Record<string, string> = {};
    for await (const vm of compute().virtualMachineScaleSetVMs.list(RG, 'scaler', { expand: 'instanceView' })) {
      zones[vm.instanceId!] = vm.zones![0]!;
      expect(vm.instanceView?.statuses?.map((s) => s.code)).toContain('PowerState/running');
    }
    expect(zones).toEqual({ '0': '1', '1': '2', '2': '1', '3': '2' });

    const before = await instanceIps('scaler');
    await compute().virtualMachineScaleSets.deleteInstances(RG, 'scaler', { instanceIds: ['1', '3'] }, poll);
    expect((await compute().virtualMachineScaleSets.get(RG, 'scaler')).sku?.capacity).toBe(2);
    // A freed address is not handed out again right away: the next instance gets a new one.
    await compute().virtualMachineScaleSets.update(RG, 'scaler', { sku: { capacity: 3 } }, poll);
    const after = await instanceIps('scaler');
    const added = [...after.entries()].filter(([id]) => !before.has(id));
    expect(added).toHaveLength(1);
    expect([...before.values()]).not.toContain(added[0]![1]);
    await compute().virtualMachineScaleSets.update(RG, 'scaler', { sku: { capacity: 2 } }, poll);
    expect((await compute().virtualMachineScaleSets.get(RG, 'scaler')).sku?.capacity).toBe(2);
    const view = await compute().virtualMachineScaleSets.getInstanceView(RG, 'scaler');
    expect(view.virtualMachine?.statusesSummary).toEqual(
      expect.arrayContaining([
        { code: 'ProvisioningState/succeeded', count: 2 },
        { code: 'PowerState/running', count: 2 },
      ]),
    );
    await expect(compute().virtualMachineScaleSets.deleteInstances(RG, 'scaler', { instanceIds: ['7'] }, poll)).rejects.toMatchObject({
      statusCode: 400,
      code: 'InvalidParameter',
    });
    await compute().virtualMachineScaleSets.delete(RG, 'scaler', poll);
  });

  it('fails the create operation, and marks the scale set Failed, when instances cannot start', async () => {
    const broken = await startTestCloud({ instanceCommand: { command: '/nonexistent/host-manager' } });
    try {
      const c = new ComputeManagementClient(broken.credential, broken.cloud.subscriptionId, broken.clientOptions);
      await new ResourceManagementClient(
        broken.credential,
        broken.cloud.subscriptionId,
        broken.clientOptions,
      ).resourceGroups.createOrUpdate('rg', {
        location: 'westeurope',
      });
      const model = {
        location: 'westeurope',
        sku: { name: 'Standard_B2s', capacity: 1 },
        virtualMachineProfile: { osProfile: { computerNamePrefix: 'x' } },
      };
      await expect(c.virtualMachineScaleSets.createOrUpdate('rg', 'broken', model, poll)).rejects.toMatchObject({
        message: expect.stringContaining('did not start'),
      });
      expect((await c.virtualMachineScaleSets.get('rg', 'broken')).provisioningState).toBe('Failed');
    } finally {
      await broken.dispose();
    }
  });
});

describe('managed identities on instances', () => {
  it('get tokens through ManagedIdentityCredential and reach only what a role assignment grants', async () => {
    const rm = new ResourceManagementClient(t.credential, sub, t.clientOptions);
    await rm.resourceGroups.createOrUpdate('rg-allowed', { location: 'westeurope' });
    await rm.resourceGroups.createOrUpdate('rg-denied', { location: 'westeurope' });
    const msi = new ManagedServiceIdentityClient(t.credential, sub, t.clientOptions);
    const probeIdentity = await msi.userAssignedIdentities.createOrUpdate(RG, 'probe-id', { location: 'westeurope' });
    const allowedScope = `/subscriptions/${sub}/resourceGroups/rg-allowed`;
    await new AuthorizationManagementClient(t.credential, sub, t.clientOptions).roleAssignments.create(allowedScope, randomUUID(), {
      roleDefinitionId: `/subscriptions/${sub}${READER}`,
      principalId: probeIdentity.principalId!,
    });

    const checks = [
      ['GET', `${allowedScope}?api-version=2021-04-01`],
      ['GET', `/subscriptions/${sub}/resourceGroups/rg-denied?api-version=2021-04-01`],
      ['GET', `/subscriptions/${sub}/resourcegroups?api-version=2021-04-01`],
      ['PUT', `${allowedScope}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/sneaky?api-version=2023-01-31`],
    ];
    const model = scaleSet(1, ['2'], JSON.stringify({ checks }));
    model.identity = { type: 'UserAssigned', userAssignedIdentities: { [probeIdentity.id!]: {} } };
    await compute().virtualMachineScaleSets.createOrUpdate(RG, 'prober', model, poll);
    const [ip] = (await instanceIps('prober')).values();
    const answer = await probe(ip!, port);
    expect(answer.identity?.error).toBeUndefined();
    expect(answer.identity).toMatchObject({ oid: probeIdentity.principalId, mirid: probeIdentity.id });
    const [allowed, denied, list, write] = answer.identity!.results;
    expect(allowed).toMatchObject({ status: 200 });
    expect(denied).toMatchObject({ status: 403, code: 'AuthorizationFailed' });
    expect(list!.body?.value?.map((g) => g.name)).toEqual(['rg-allowed']);
    expect(write).toMatchObject({ status: 403, code: 'AuthorizationFailed' });
    await compute().virtualMachineScaleSets.delete(RG, 'prober', poll);
  });
});
