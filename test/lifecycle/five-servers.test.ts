// Issue 17, item 6: five servers from the start, on the full real stack. A create of 5 servers
// places them in zones 1,2,3,1,2 and raft has 5 voters; a scale 5 to 3 keeps the three oldest and
// the data; a scale 3 to 1 (a development cluster) works the same way: the two newest servers
// leave raft one at a time, so the remaining ones keep quorum, and the data written with five
// servers is still read from the last one. A PATCH to a count we do not offer changes nothing.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { getClusterServers } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { httpCall } from '../../lib/http.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  consulCall,
  consulKvPut,
  createRootToken,
  followLocation,
  leftovers,
  lifecycleConfig,
  type ClusterAccess,
} from '../support/lifecycle.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const subscriptionId = randomUUID();
const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-five/providers/HCS.Consul/clusters/five-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }), {
  requirePostgres: 'the end-to-end test needs the PostgreSQL store (terraform pg backend)',
});
let root = '';
beforeAll(async () => {
  await cp.registerSubscription(subscriptionId);
});
const everAddresses = new Set<string>();

interface Raft {
  Servers: Array<{ Voter: boolean; Address: string }>;
}

/** Raft's voters as one server sees them, once the configuration has `expected` of them. */
async function voters(access: ClusterAccess, address: string, expected: number): Promise<string[]> {
  let seen: string[] = [];
  for (const end = Date.now() + 60_000; Date.now() < end;) {
    const res = await consulCall(access, address, '/v1/operator/raft/configuration', root);
    if (res.status === 200) {
      seen = (JSON.parse(res.body) as Raft).Servers.filter((s) => s.Voter).map((s) => s.Address.split(':')[0]!);
      if (seen.length === expected) return seen.sort();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return seen.sort();
}

/** PATCH serverCount and wait for the scale operation's end. */
async function scaleTo(serverCount: number): Promise<void> {
  const patch = await arm(cp, 'PATCH', id, { properties: { serverCount } });
  expect(patch.status, patch.body).toBe(202);
  const done = await followLocation(cp, String(patch.headers.location));
  expect(done.status, done.body).toBe(200);
  const [op] = await listOperations(cp.db, key);
  expect(op).toMatchObject({ kind: 'scale', status: 'Succeeded' });
}

describe.sequential('a five-server cluster', () => {
  it('creates 5 servers in zones 1,2,3,1,2 with 5 raft voters', async () => {
    const done = await createCluster(cp, id, {
      location: 'westeurope',
      properties: { consulVersion: version, serverCount: 5, network: { cidr: '10.64.0.0/16' } },
    });
    expect(JSON.parse(done.body)).toMatchObject({ properties: { provisioningState: 'Succeeded', serverCount: 5 } });
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3', '1', '2']);
    for (const s of servers) everAddresses.add(s.address);
    root = (await createRootToken(cp, id)).secretId;
    const access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(5);
    expect(await voters(access, access.addresses[4]!, 5)).toEqual(servers.map((s) => s.address).sort());
    await consulKvPut(access, access.addresses[3]!, '/v1/kv/five/written-with-five', root, 'kept');
  }, 600_000);

  it('refuses a server count we do not offer, naming the choices, and changes nothing', async () => {
    const before = JSON.parse((await arm(cp, 'GET', id)).body) as { etag: string };
    const patch = await arm(cp, 'PATCH', id, { properties: { serverCount: 2 } });
    expect(patch.status).toBe(400);
    type Detail = { code: string; target?: string; message: string; details?: Detail[] };
    const error = (JSON.parse(patch.body) as { error: Detail }).error;
    const detail = [error, ...(error.details ?? [])].find((d) => d.target === 'properties.serverCount');
    expect(detail?.code, patch.body).toBe('InvalidServerCount');
    expect(detail?.message).toContain('1, 3 or 5');
    const after = JSON.parse((await arm(cp, 'GET', id)).body) as { etag: string; properties: { serverCount: number } };
    expect(after.etag).toBe(before.etag);
    expect(after.properties.serverCount).toBe(5);
  });

  it('scales 5 to 3: the three oldest servers stay, 3 voters, the data is kept', async () => {
    const before = await getClusterServers(cp.db, key);
    await scaleTo(3);
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.address)).toEqual(before.slice(0, 3).map((s) => s.address));
    const access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(3);
    expect(await voters(access, access.addresses[0]!, 3)).toEqual(
      before
        .slice(0, 3)
        .map((s) => s.address)
        .sort(),
    );
    for (const gone of before.slice(3))
      await expect(httpCall(`http://${gone.address}:9701/status`, { timeoutInMs: 1_000 })).rejects.toThrow();
    expect((await consulCall(access, access.addresses[2]!, '/v1/kv/five/written-with-five?raw', root)).body).toBe('kept');
  }, 600_000);

  it('scales 3 to 1: one voter left, still the leader of the same data', async () => {
    const before = await getClusterServers(cp.db, key);
    await scaleTo(1);
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.address)).toEqual([before[0]!.address]);
    const access = await clientAccess(cp, id);
    expect(access.addresses).toEqual([before[0]!.address]);
    expect(await voters(access, before[0]!.address, 1)).toEqual([before[0]!.address]);
    const leader = await consulCall(access, before[0]!.address, '/v1/status/leader', root);
    expect(JSON.parse(leader.body)).toMatch(new RegExp(`^${before[0]!.address.replace(/\./g, '\\.')}:`));
    expect((await consulCall(access, before[0]!.address, '/v1/kv/five/written-with-five?raw', root)).body).toBe('kept');
    // Writes still commit with one voter.
    await consulKvPut(access, before[0]!.address, '/v1/kv/five/written-with-one', root, 'ok');
  }, 600_000);

  it('deletes it: nothing is left anywhere', async () => {
    const names = await clusterNames(cp.db, key);
    const del = await arm(cp, 'DELETE', id);
    expect(del.status, del.body).toBe(202);
    expect((await followLocation(cp, String(del.headers.location))).status).toBeLessThan(300);
    expect((await arm(cp, 'GET', id)).status).toBe(404);
    const left = await leftovers(stack, cp.db, { resourceKey: key, addresses: [...everAddresses], ...names });
    expect(left).toEqual({ processes: [], twin: [], blob: [], dns: [], pki: [], secrets: [], terraformState: [], record: [] });
  }, 600_000);
});
