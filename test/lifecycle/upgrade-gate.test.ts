// A failed health gate stops a rolling upgrade, on the full real stack: a 3-server cluster on the
// older built Consul version is upgraded (no maintenance window, so it starts at once). As soon as
// the upgrade turns to its first follower, the second follower's VM is powered off through the
// cloud (the twin halts host-manager and its Consul). The first follower comes back on the new
// version, but the cluster can no longer pass the gate (a voter short, autopilot unhealthy, or the
// second follower never coming back), so the operation ends Failed with the step and the reason;
// no server after the failed step was touched (its manifest still names the old version) and the
// leader still runs the old version; the cluster's provisioningState is what it was (a failed
// day-2 operation leaves it).
// The worker's health timeout (one gate attempt) is 60 s here instead of the harness's 240 s, so
// the three attempts give up in about three minutes; production keeps its own default.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { serverPrefix } from '../../activities/cluster-blobs.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  consulCall,
  createRootToken,
  followLocation,
  lifecycleConfig,
  twinCall,
  type ClusterAccess,
} from '../support/lifecycle.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const HEALTH_TIMEOUT_SECONDS = 60;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack, { healthTimeoutSeconds: HEALTH_TIMEOUT_SECONDS }) }));

interface Member {
  Addr: string;
  Status: number;
  Tags: Record<string, string>;
}

/** The servers' gossip members as the first answering server (of `ask`) sees them. */
async function members(access: ClusterAccess, token: string, ask: string[]): Promise<Member[]> {
  for (const address of ask) {
    const res = await consulCall(access, address, '/v1/agent/members', token).catch(() => undefined);
    if (res?.status === 200) return (JSON.parse(res.body) as Member[]).filter((m) => m.Tags.role === 'consul');
  }
  throw new Error(`no server of ${ask.join(', ')} answers`);
}
const versionOf = (m: Member | undefined) =>
  m ? `${(m.Tags.build ?? '').split(':')[0]}${m.Status === 1 ? '' : ` (status ${m.Status})`}` : 'absent';

it('stops the upgrade at a failed health gate with the step and the reason, touching no server it had not reached', async () => {
  expect(older).not.toBe(newer);
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-upgate/providers/HCS.Consul/clusters/upg-${randomUUID().slice(0, 6)}`;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 3,
      network: { cidr: '10.64.0.0/16' },
      upgradePolicy: { automaticPatchUpgrades: false },
    },
  });
  const resourceKey = id.toLowerCase();
  const access = await clientAccess(cp, id);
  const root = (await createRootToken(cp, id)).secretId;
  const view = async () =>
    (JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { provisioningState: string; currentConsulVersion: string } }).properties;
  const stateBefore = (await view()).provisioningState;
  expect(stateBefore).toBe('Succeeded');

  // The order the workflow will take: followers in index order, the leader last.
  const servers = await getClusterServers(cp.db, resourceKey);
  expect(servers).toHaveLength(3);
  const leaderRes = await consulCall(access, servers[0]!.address, '/v1/status/leader', root);
  const leader = (JSON.parse(leaderRes.body) as string).split(':')[0]!;
  const order = [...servers.filter((s) => s.address !== leader), ...servers.filter((s) => s.address === leader)];
  expect(order.at(-1)!.address).toBe(leader);
  const [first, second, last] = order as [(typeof order)[0], (typeof order)[0], (typeof order)[0]];

  const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
  expect(up.status, up.body).toBe(202);
  const op = (await listOperations(cp.db, resourceKey)).find((o) => o.kind === 'upgrade')!;
  expect(op).toBeDefined();

  // As soon as the upgrade turns to its first server, power off the second follower's VM (the twin
  // stops its host-manager and Consul). Its own gate can never pass now, whenever the power-off
  // lands: the operation must stop at the first or the second server and never reach the leader.
  const firstStep = `upgrade ${first.name} (1/3)`;
  for (let deadline = Date.now() + 600_000; ;) {
    const now = await getOperation(cp.db, op.operationId);
    expect(['Accepted', 'Scheduled', 'Running']).toContain(now!.status);
    if (now!.step === firstStep) break;
    if (Date.now() > deadline) throw new Error(`the upgrade never reached "${firstStep}" (step: ${now!.step})`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const rg = (await clusterNames(cp.db, resourceKey)).infraResourceGroup;
  const vmss = `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets/${second.name}`;
  const poweredOffAt = Date.now();
  const off = await twinCall(stack, 'POST', `${vmss}/poweroff?api-version=2024-07-01`, {});
  expect([200, 202], off.body).toContain(off.status);
  for (let deadline = Date.now() + 60_000; ;) {
    const down = await httpCall(`http://${second.address}:9701/status`, { timeoutInMs: 1_000 }).then(
      () => false,
      () => true,
    );
    if (down) break;
    if (Date.now() > deadline) throw new Error(`${second.name} still answers after being powered off`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const downAfter = Date.now() - poweredOffAt;

  // The operation fails at a gate, naming the step and the gate's reason.
  const done = await followLocation(cp, String(up.headers.location), 900_000);
  const failedAfter = Math.round((Date.now() - poweredOffAt) / 1000);
  expect(done.status, done.body).toBe(400);
  const error = (JSON.parse(done.body) as { error: { code: string; message: string } }).error;
  console.log(
    `[upgrade-gate] ${second.name} down ${downAfter} ms after the power-off request; the upgrade failed ${failedAfter} s after it: ${error.code}: ${error.message}`,
  );
  expect(error.code).toBe('ClusterNotHealthy');
  const failedStep = /^upgrade (\S+) \(([12])\/3\) failed: /.exec(error.message);
  expect(failedStep, error.message).not.toBeNull();
  const [, failedServer, position] = failedStep!;
  expect(failedServer).toBe(order[Number(position) - 1]!.name);
  expect(error.message.slice(failedStep![0].length)).toMatch(
    new RegExp(
      `^${failedServer} did not come back healthy on ${newer.replace(/\./g, '\\.')}: .*(voters in raft, expected 3|autopilot unhealthy|${second.name} is not a member yet)`,
    ),
  );
  const after = await getOperation(cp.db, op.operationId);
  expect(after).toMatchObject({ status: 'Failed', error: { code: error.code, message: error.message } });
  // Three gate attempts of HEALTH_TIMEOUT_SECONDS each, not a hang until the 20-minute timeout.
  expect(failedAfter).toBeGreaterThanOrEqual(HEALTH_TIMEOUT_SECONDS);
  expect(failedAfter).toBeLessThan(HEALTH_TIMEOUT_SECONDS * 3 + 120);

  // The first follower was upgraded; every server after the failed step was not touched: its
  // manifest still names the old version. The leader, alive, still runs it.
  const container = new BlobServiceClient(
    stack.blob.url,
    new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey),
  ).getContainerClient((await clusterNames(cp.db, resourceKey)).container);
  const manifestVersion = async (index: number) =>
    (
      JSON.parse((await container.getBlobClient(`${serverPrefix(index)}manifest.json`).downloadToBuffer()).toString('utf8')) as {
        consulVersion: string;
      }
    ).consulVersion;
  for (const [i, server] of order.entries())
    expect(await manifestVersion(server.index), server.name).toBe(i < Number(position) ? newer : older);
  const final = await members(access, root, [last.address, first.address]);
  expect(versionOf(final.find((m) => m.Addr === first.address))).toBe(newer);
  expect(versionOf(final.find((m) => m.Addr === last.address))).toBe(older);
  const status = JSON.parse((await httpCall(`http://${last.address}:9701/status`, { timeoutInMs: 5_000 })).body) as {
    consulVersion: string;
  };
  expect(status.consulVersion).toBe(older);
  // A day-2 failure leaves provisioningState; the cluster does not claim the new version.
  expect(await view()).toMatchObject({ provisioningState: stateBefore, currentConsulVersion: older });
  // KV still works on the two servers left (a quorum of three).
  const kv = await httpCall(`https://${last.address}:8501/v1/kv/after-gate`, {
    method: 'PUT',
    ca: access.caPem,
    headers: { 'x-consul-token': root },
    body: 'ok',
  });
  expect(kv.status, kv.body).toBe(200);

  const del = await arm(cp, 'DELETE', id);
  expect(del.status).toBe(202);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 1_500_000);
