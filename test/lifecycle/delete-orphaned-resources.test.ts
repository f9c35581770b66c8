// A delete when the cloud holds a resource the cluster's Terraform state lacks, on the full real
// stack (terraform + azapi against the ARM twin, real Temporal). That is what a create or scale
// cancelled or killed while its scale set's PUT was in flight leaves: the cloud made the scale set,
// the state never heard of it. Here the orphan is made deterministically: a second server's scale
// set, a copy of the real one's model (same subnet and load-balancer pool, the cluster's tags)
// with no instances, PUT straight through the twin's ARM API. Terraform's destroy then cannot
// delete the subnet (InUseSubnetCannotBeDeleted) and would fail on every retry; the delete must
// still end with nothing left.
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { getClusterServers } from '../../store/clusters.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import { arm, clusterNames, followLocation, leftovers, lifecycleConfig, twinCall } from '../support/lifecycle.js';

const stack = inject('stack');
const COMPUTE_API = 'api-version=2024-07-01';
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }), {
  requirePostgres: 'this test needs the PostgreSQL store (terraform pg backend)',
});

it('deletes a cluster whose subnet a scale set missing from its state still uses: 204, nothing left', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-orphan/providers/HCS.Consul/clusters/orphan-${randomUUID().slice(0, 6)}`;
  const key = id.toLowerCase();
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: stack.tools.consulVersions.at(-1)!, serverCount: 1, network: { cidr: '10.93.0.0/16' } },
  });
  const names = await clusterNames(cp.db, key);
  const addresses = (await getClusterServers(cp.db, key)).map((s) => s.address);

  // The orphan: server 0's scale set copied under the next server's name, capacity 0.
  const group = `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${names.infraResourceGroup}`;
  const list = await twinCall(stack, 'GET', `${group}/providers/Microsoft.Compute/virtualMachineScaleSets?${COMPUTE_API}`);
  expect(list.status, list.body).toBe(200);
  const [server] = (JSON.parse(list.body) as { value: Array<Record<string, unknown> & { name: string }> }).value;
  expect(server?.name).toMatch(/-0$/);
  const { id: _id, name: _name, type: _type, ...model } = server!;
  const orphanName = server!.name.replace(/-0$/, '-1');
  const orphan = `${group}/providers/Microsoft.Compute/virtualMachineScaleSets/${orphanName}`;
  const put = await twinCall(stack, 'PUT', `${orphan}?${COMPUTE_API}`, { ...model, sku: { ...(model.sku as object), capacity: 0 } });
  expect([200, 201], put.body).toContain(put.status);
  for (let deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 200))) {
    const got = await twinCall(stack, 'GET', `${orphan}?${COMPUTE_API}`);
    if ((JSON.parse(got.body) as { properties?: { provisioningState?: string } }).properties?.provisioningState === 'Succeeded') break;
    if (Date.now() > deadline) throw new Error(`the orphan scale set never finished its creation: ${got.body}`);
  }
  // The orphan holds the subnet: the twin refuses to delete it, as Azure does.
  const vnets = await twinCall(stack, 'GET', `${group}/providers/Microsoft.Network/virtualNetworks?api-version=2024-05-01`);
  const subnet = (JSON.parse(vnets.body) as { value: Array<{ properties: { subnets: Array<{ id: string }> } }> }).value[0]!.properties
    .subnets[0]!.id;
  const refused = await twinCall(stack, 'DELETE', `${subnet}?api-version=2024-05-01`);
  expect(refused.status, refused.body).toBe(400);
  expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'InUseSubnetCannotBeDeleted' } });

  const del = await arm(cp, 'DELETE', id);
  expect(del.status, del.body).toBe(202);
  expect((await followLocation(cp, String(del.headers.location), 300_000)).status).toBe(204);
  const left = await leftovers(stack, cp.db, { resourceKey: key, addresses, ...names });
  expect(Object.entries(left).filter(([, v]) => v.length)).toEqual([]);
}, 600_000);
