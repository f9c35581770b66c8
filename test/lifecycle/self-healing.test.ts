// Issue 17, item 2: self-healing servers, on the full real stack (Temporal, the store, OpenBao,
// the ARM twin running real Consul servers under host-manager, challtestsrv as DNS). The worker
// runs its server health check for this file's subscription every 2 s and repairs a server down
// for 8 s (HCS_SERVER_HEALTH_CHECK_SECONDS / HCS_SERVER_REPAIR_AFTER_SECONDS).
// - One server broken for good (the twin kills its VM's processes and refuses to restart it):
//   with no request from anyone, a repair operation (recorded, started by the health check) brings
//   raft back to 3 voters, and the KV data written before is still there.
// - Two of three broken at once (the quorum lost): the health check acts on one server at a time
//   (never two of its operations in flight, by the operations' times and by sampling their
//   states), never reimages a server while the others hold no quorum, and the data stays on the
//   surviving server.
// - Clients find servers by name: a server whose VM was lost comes back (an update re-creates it)
//   at a new address; the cluster's private DNS name follows, and a client agent started with the
//   client configuration fetched before joins by that name, reaching all three servers.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { FAULT_ADMIN_HEADER } from '../../apps/local-cloud/src/faults.js';
import { BROKEN_INSTANCES_PATH } from '../../apps/local-cloud/src/instance-faults.js';
import { lookupA } from '../../activities/dns.js';
import { SERVER_HEALTH_WORKFLOW_ID } from '../../contract/temporal.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { createCluster, useClientAgents, useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  consulCall,
  consulKvPut,
  createRootToken,
  followLocation,
  lifecycleConfig,
  startClientAgent,
  twinCall,
  twinGet,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { sharedDnsForwarder } from '../support/private-resolver.js';

const stack = inject('stack');
const COMPUTE_API = 'api-version=2024-07-01';
const subscriptionId = randomUUID();
const otherSubscription = randomUUID();
const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-heal/providers/HCS.Consul/clusters/heal-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
const cp = useControlPlane(
  stack,
  () => ({ lifecycle: lifecycleConfig(stack), serverHealth: { everySeconds: 2, repairAfterSeconds: 8, subscriptionId } }),
  { requirePostgres: 'the end-to-end test needs the PostgreSQL store (terraform pg backend)' },
);
const work = useScratchFolder('hcs-self-healing-');
const agents = useClientAgents(work);
let root = '';
let access: ClusterAccess;

beforeAll(async () => {
  await cp.registerSubscription(subscriptionId);
  await cp.registerSubscription(otherSubscription);
});

interface ApiOperation {
  name: string;
  status: string;
  startTime: string;
  endTime?: string;
  properties: { kind: string; step?: string };
  error?: { message: string };
}
const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** The cluster's operations through the API (as ARM), newest first. */
async function apiOperations(clusterId: string): Promise<ApiOperation[]> {
  const res = await arm(cp, 'GET', `${clusterId}/operations`);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { value: ApiOperation[] }).value;
}

/** Raft's voters (addresses) as `address` sees them. */
async function voters(a: ClusterAccess, address: string): Promise<string[]> {
  const res = await consulCall(a, address, '/v1/operator/raft/configuration', root);
  if (res.status !== 200) throw new Error(`raft configuration on ${address}: ${res.status} ${res.body}`);
  return (JSON.parse(res.body) as { Servers: Array<{ Address: string; Voter: boolean }> }).Servers.filter((s) => s.Voter)
    .map((s) => s.Address.split(':')[0]!)
    .sort();
}

/** The scale set of a server (named after it, in the cluster's infrastructure resource group). */
async function scaleSetId(clusterKey: string, serverName: string): Promise<string> {
  const { infraResourceGroup } = await clusterNames(cp.db, clusterKey);
  return `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${infraResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/${serverName}`;
}

async function instanceIds(vmss: string): Promise<string[]> {
  const res = await twinGet(stack, `${vmss}/virtualMachines?${COMPUTE_API}`);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { value: Array<{ instanceId: string }> }).value.map((v) => v.instanceId);
}

/** The twin's test-only fault: the server's VM is broken for good (its processes killed, restarts refused). */
async function breakForGood(serverName: string): Promise<void> {
  const vmss = await scaleSetId(key, serverName);
  const [instanceId] = await instanceIds(vmss);
  const res = await httpCall(`${stack.cloud.url}${BROKEN_INSTANCES_PATH}`, {
    method: 'PUT',
    ca: stack.cloud.caCertPem,
    headers: { 'content-type': 'application/json', [FAULT_ADMIN_HEADER]: stack.cloud.controlPlaneIdentity.header },
    body: JSON.stringify({ scaleSetId: vmss, instanceId }),
  });
  expect(res.status, res.body).toBe(200);
}

async function brokenInstances(): Promise<string[]> {
  const res = await httpCall(`${stack.cloud.url}${BROKEN_INSTANCES_PATH}`, {
    ca: stack.cloud.caCertPem,
    headers: { [FAULT_ADMIN_HEADER]: stack.cloud.controlPlaneIdentity.header },
  });
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { broken: string[] }).broken;
}

const hostManagerAnswers = (address: string) =>
  httpCall(`http://${address}:9701/status`, { timeoutInMs: 1_000 }).then(
    () => true,
    () => false,
  );

async function kvRead(a: ClusterAccess, address: string, path: string, mode: 'stale' | 'consistent'): Promise<string> {
  const res = await consulCall(a, address, `/v1/kv/${path}?raw&${mode}`, root);
  return res.status === 200 ? res.body : `(${res.status} ${res.body.trim()})`;
}

/** A probe's failure that ends the wait at once (the others are "not yet"). */
class Fatal extends Error {}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  let last = '';
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof Fatal) throw err;
      last = err instanceof Error ? err.message : JSON.stringify(err);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}`);
}

describe.sequential('self-healing servers', () => {
  it('creates a 3-server cluster with data in it', async () => {
    await createCluster(cp, id, { location: 'westeurope', properties: { serverCount: 3, network: { cidr: '10.71.0.0/16' } } });
    root = (await createRootToken(cp, id)).secretId;
    access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(3);
    expect(await voters(access, access.addresses[0]!)).toEqual([...access.addresses].sort());
    await consulKvPut(access, access.addresses[0]!, '/v1/kv/heal/before-one', root, 'kept-1');
  }, 600_000);

  it('repairs a server broken for good with no request from anyone: 3 voters again, recorded as a repair, the data kept', async () => {
    const servers = await getClusterServers(cp.db, key);
    const victim = servers[1]!;
    const opsBefore = (await apiOperations(id)).map((o) => o.name);
    const brokenAt = Date.now();
    await breakForGood(victim.name);
    expect(await hostManagerAnswers(victim.address)).toBe(false);

    // Nobody asks for anything: the health check notices, waits 8 s, and repairs.
    const survivors = servers.filter((s) => s !== victim).map((s) => s.address);
    const repaired = await until('the repair operation succeeded', 600_000, async () => {
      const ops = (await apiOperations(id)).filter((o) => !opsBefore.includes(o.name));
      const failed = ops.find((o) => o.status === 'Failed');
      if (failed) throw new Fatal(`an operation failed: ${JSON.stringify(failed)}`);
      return ops.find((o) => o.properties.kind === 'repair' && o.status === 'Succeeded');
    });
    expect(await voters(access, survivors[0]!)).toEqual(servers.map((s) => s.address).sort());
    expect(await voters(access, victim.address)).toEqual(servers.map((s) => s.address).sort());
    expect(await hostManagerAnswers(victim.address)).toBe(true);
    expect(await brokenInstances()).toEqual([]); // the reimage gave it a healthy host

    // Exactly one new operation: that repair, started after the break by the health check
    // (its correlation id is the health check's workflow, not a request).
    const newOps = (await apiOperations(id)).filter((o) => !opsBefore.includes(o.name));
    expect(newOps.map((o) => [o.properties.kind, o.status])).toEqual([['repair', 'Succeeded']]);
    expect(Date.parse(repaired.startTime)).toBeGreaterThanOrEqual(brokenAt + 8_000 - 1_000);
    const recorded = (await listOperations(cp.db, key)).find((o) => o.operationId === repaired.name)!;
    expect(recorded.correlationId).toBe(`${SERVER_HEALTH_WORKFLOW_ID}/${cp.taskQueue}`);

    // The data written before is on the repaired server and readable through the leader.
    await until('the repaired server has the data', 60_000, async () =>
      (await kvRead(access, victim.address, 'heal/before-one', 'stale')) === 'kept-1' ? true : undefined,
    );
    expect(await kvRead(access, survivors[0]!, 'heal/before-one', 'consistent')).toBe('kept-1');
  }, 900_000);

  it('two of three broken at once: one operation at a time, no reimage without a quorum, the data kept on the survivor', async () => {
    const servers = await getClusterServers(cp.db, key);
    await consulKvPut(access, servers[0]!.address, '/v1/kv/heal/before-two', root, 'kept-2');
    // Written through the leader: on a majority; give the third server a moment to have it too.
    await until('every server has the data', 30_000, async () => {
      for (const s of servers) if ((await kvRead(access, s.address, 'heal/before-two', 'stale')) !== 'kept-2') return undefined;
      return true;
    });
    const opsBefore = (await apiOperations(id)).map((o) => o.name);
    const [survivor, ...victims] = [servers[2]!, servers[0]!, servers[1]!];
    await Promise.all(victims.map((v) => breakForGood(v.name)));

    // Sample the operations the health check starts until it has acted on both broken servers.
    let maxInFlight = 0;
    const acted = await until('the health check acted on both broken servers', 600_000, async () => {
      const ops = (await apiOperations(id)).filter((o) => !opsBefore.includes(o.name));
      maxInFlight = Math.max(maxInFlight, ops.filter((o) => !TERMINAL.has(o.status)).length);
      const ended = ops.filter((o) => TERMINAL.has(o.status));
      const names = new Set(ended.map((o) => victims.find((v) => `${o.properties.step} ${o.error?.message}`.includes(v.name))?.name));
      return victims.every((v) => names.has(v.name)) ? ops : undefined;
    });
    expect(maxInFlight).toBeLessThanOrEqual(1);
    // By their times too: each started after the one before ended.
    const ordered = [...acted].sort((a, b) => Date.parse(a.startTime) - Date.parse(b.startTime));
    for (let i = 1; i < ordered.length; i++) {
      const previousEnd = ordered[i - 1]!.endTime;
      expect(previousEnd, `operation ${ordered[i - 1]!.name} still running when ${ordered[i]!.name} started`).toBeDefined();
      expect(Date.parse(ordered[i]!.startTime)).toBeGreaterThanOrEqual(Date.parse(previousEnd!));
    }
    // Without a quorum a server is only restarted (its disk may hold data the cluster needs):
    // no reimage, so the twin still has both broken, and the survivor was never touched.
    expect(ordered.map((o) => o.properties.kind).every((k) => k === 'restart')).toBe(true);
    expect(ordered.some((o) => `${o.properties.step} ${o.error?.message}`.includes(survivor.name))).toBe(false);
    expect((await brokenInstances()).length).toBe(2);
    // The data is still there on the survivor.
    expect(await kvRead(access, survivor.address, 'heal/before-two', 'stale')).toBe('kept-2');
    expect(await kvRead(access, survivor.address, 'heal/before-one', 'stale')).toBe('kept-1');
  }, 900_000);

  it('deletes the cluster with two broken servers', async () => {
    const servers = await getClusterServers(cp.db, key);
    const del = await arm(cp, 'DELETE', id);
    expect(del.status, del.body).toBe(202);
    expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
    // Every instance is gone, the two broken ones too (the twin keeps their broken marks).
    for (const s of servers) expect(await hostManagerAnswers(s.address)).toBe(false);
  }, 600_000);
});

describe.sequential('clients join by the private DNS name', () => {
  const otherId = `/subscriptions/${otherSubscription}/resourceGroups/rg-dns/providers/HCS.Consul/clusters/dns-${randomUUID().slice(0, 6)}`;
  const otherKey = otherId.toLowerCase();

  it('a client agent joins by name after a server came back at a new address, reaching all three servers', async () => {
    await createCluster(cp, otherId, { location: 'westeurope', properties: { serverCount: 3, network: { cidr: '10.72.0.0/16' } } });
    root = (await createRootToken(cp, otherId)).secretId;
    const before = await clientAccess(cp, otherId);
    const names = await clusterNames(cp.db, otherKey);
    expect((before.clientConfig as { retry_join: string[] }).retry_join).toEqual([names.privateFqdn]);
    expect(await lookupA(stack.acme.dnsAddress, names.privateFqdn)).toEqual([...before.addresses].sort());

    // Server 0's VM is lost (deleted with its disk); an update re-creates it, at a new address.
    const servers = await getClusterServers(cp.db, otherKey);
    const lost = servers[0]!;
    const vmss = await scaleSetId(otherKey, lost.name);
    const [instanceId] = await instanceIds(vmss);
    const del = await twinCall(stack, 'DELETE', `${vmss}/virtualMachines/${instanceId}?${COMPUTE_API}`);
    expect(del.status, del.body).toBeLessThan(300);
    await until('the VM is gone', 120_000, async () => ((await instanceIds(vmss)).length === 0 ? true : undefined));
    const patch = await arm(cp, 'PATCH', otherId, { properties: { snapshotPolicy: { intervalHours: 2, retentionCount: 4 } } });
    expect(patch.status, patch.body).toBe(202);
    const done = await followLocation(cp, String(patch.headers.location), 900_000);
    expect(done.status, done.body).toBe(200);
    const after = await getClusterServers(cp.db, otherKey);
    const moved = after.find((s) => s.index === lost.index)!;
    expect(moved.address).not.toBe(lost.address);
    const addresses = after.map((s) => s.address).sort();
    expect(await lookupA(stack.acme.dnsAddress, names.privateFqdn)).toEqual(addresses);
    // Raft follows: autopilot removes the lost server's dead peer and promotes the new one.
    await until('raft has the three current servers as voters', 180_000, async () =>
      JSON.stringify(await voters(before, addresses[0]!)) === JSON.stringify(addresses) ? true : undefined,
    );
    // The client configuration did not change: it names the servers, not their addresses.
    const now = await clientAccess(cp, otherId);
    expect(now.clientConfig).toEqual(before.clientConfig);

    // A client agent with the configuration fetched before, resolving through the system
    // resolver (challtestsrv behind a forwarder on port 53): it joins all three servers, the new
    // address among them (a stale name would have given it the old, dead address).
    const forwarder = await sharedDnsForwarder(stack.acme.dnsAddress);
    const relayedBefore = forwarder.relayed();
    const version = stack.tools.consulVersions.at(-1)!;
    const client = await startClientAgent(agents, {
      access: { ...now, clientConfig: before.clientConfig },
      rootToken: root,
      consul: stack.tools.consul[version]!,
      dir: join(work, 'dns-client'),
      http: false,
      dnsServer: stack.acme.dnsAddress,
    });
    expect(forwarder.relayed()).toBeGreaterThan(relayedBefore);
    const log = readFileSync(client.logFile, 'utf8');
    expect(log).toMatch(/\(LAN\) joined: number_of_nodes=3/);
    const members = JSON.parse((await consulCall(now, moved.address, '/v1/agent/members', root)).body) as Array<{
      Addr: string;
      Status: number;
    }>;
    expect(members.find((m) => m.Addr === client.address)?.Status).toBe(1);

    const gone = await arm(cp, 'DELETE', otherId);
    expect(gone.status, gone.body).toBe(202);
    expect((await followLocation(cp, String(gone.headers.location))).status).toBe(204);
    expect(await lookupA(stack.acme.dnsAddress, names.privateFqdn)).toEqual([]);
  }, 1_500_000);
});
