// For tests: one server's scale set on the twin, built through the official Azure SDKs the way
// the Terraform module lays it out (a resource group, a virtual network, a user-assigned identity
// and a scale set of capacity 1 in zone 1 with one NIC), its instance running the probe program
// (testing-instance.ts) the TestCloud was started with.
import { ComputeManagementClient } from '@azure/arm-compute';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TestCloud } from './testing.js';

const poll = { updateIntervalInMs: 100 };

export interface ProbeScaleSet {
  /** The scale set's ARM id. */
  id: string;
  /** The private address of its one instance. */
  ip: string;
  compute: ComputeManagementClient;
}

export async function createProbeScaleSet(
  t: TestCloud,
  o: { resourceGroup: string; name: string; /** the virtual network's /16, as 10.x.0.0/16 */ cidr: string },
): Promise<ProbeScaleSet> {
  const sub = t.cloud.subscriptionId;
  const location = 'westeurope';
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(o.resourceGroup, { location });
  const net = new NetworkManagementClient(t.credential, sub, t.clientOptions);
  const subnetPrefix = o.cidr.replace(/\.0\.0\/16$/, '.1.0/24');
  const vnet = await net.virtualNetworks.beginCreateOrUpdateAndWait(
    o.resourceGroup,
    'vnet',
    { location, addressSpace: { addressPrefixes: [o.cidr] }, subnets: [{ name: 's', addressPrefix: subnetPrefix }] },
    poll,
  );
  const identity = await new ManagedServiceIdentityClient(t.credential, sub, t.clientOptions).userAssignedIdentities.createOrUpdate(
    o.resourceGroup,
    'id',
    { location },
  );
  const compute = new ComputeManagementClient(t.credential, sub, t.clientOptions);
  const created = await compute.virtualMachineScaleSets.createOrUpdate(
    o.resourceGroup,
    o.name,
    {
      location,
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
  for await (const nic of net.networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces(o.resourceGroup, o.name))
    return { id: created.id!, ip: nic.ipConfigurations![0]!.privateIPAddress!, compute };
  throw new Error(`scale set ${o.name} has no NIC`);
}
