// A rolling upgrade on the full real stack: a 3-server cluster on the older built Consul
// version, with a maintenance window opening a minute or two later; a real client agent keeps
// writing and reading KV throughout (a round every 200 ms). The upgrade waits for the window,
// takes a snapshot, moves followers first and the leader last after a leadership transfer; every
// server ends on the newer version. While it runs, the test samples the servers' view (raft
// leader, each member's version) and checks the order from that: the server that led when the
// upgrade began changes version last, and only after leadership moved to an upgraded server.
// The longest stretch of time in which every client request failed stays under 5 s.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { listSnapshots } from '../../store/snapshots.js';
import { createCluster, useClientAgents, useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  consulCall,
  createRootToken,
  followLocation,
  lifecycleConfig,
  startClientAgent,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { utcWeekday } from '../support/windows.js';

const stack = inject('stack');
const [older, newer] = stack.tools.consulVersions;
const work = useScratchFolder('hcs-upgrade-');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }));
const agents = useClientAgents(work);

/** HH:MM in UTC, at least `minMs` from now (on a minute boundary). */
function windowStart(minMs: number): { hhmm: string; at: number; day: string } {
  const at = Math.ceil((Date.now() + minMs) / 60_000) * 60_000;
  const d = new Date(at);
  return { hhmm: `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`, at, day: utcWeekday(d) };
}

async function serverVersions(access: { addresses: string[]; caPem: string }, token: string): Promise<Record<string, string>> {
  const res = await consulCall(access as never, access.addresses[0]!, '/v1/agent/members', token).catch(() => undefined);
  if (!res || res.status !== 200) return {};
  const members = JSON.parse(res.body) as Array<{ Addr: string; Tags: Record<string, string> }>;
  return Object.fromEntries(members.filter((m) => m.Tags.role === 'consul').map((m) => [m.Addr, (m.Tags.build ?? '').split(':')[0] ?? '']));
}

interface Round {
  at: number;
  end: number;
  ok: boolean;
}

/**
 * The longest stretch in which every round failed: from the start of the first failed round of a
 * run to the start of the next successful one (or the end of the last round).
 */
function longestFailureWindow(rounds: Round[]): { ms: number; from?: number } {
  let best: { ms: number; from?: number } = { ms: 0 };
  let runStart: number | undefined;
  for (const r of rounds) {
    if (!r.ok) {
      runStart ??= r.at;
      continue;
    }
    if (runStart !== undefined && r.at - runStart > best.ms) best = { ms: r.at - runStart, from: runStart };
    runStart = undefined;
  }
  const last = rounds.at(-1);
  if (runStart !== undefined && last && last.end - runStart > best.ms) best = { ms: last.end - runStart, from: runStart };
  return best;
}

interface Sample {
  at: number;
  /** The raft leader's address as the first answering server sees it ('' while there is none). */
  leader: string;
  /** The servers whose HTTPS API answered. */
  up: string[];
  members: Record<string, { version: string; alive: boolean }>;
}

/** Every server asked for the raft leader (who answers), then the members as the first one that answered sees them. */
async function observe(access: ClusterAccess, token: string): Promise<Sample | undefined> {
  const at = Date.now();
  const call = (address: string, path: string) =>
    httpCall(`https://${address}:8501${path}`, { ca: access.caPem, headers: { 'x-consul-token': token }, timeoutInMs: 1_000 }).then(
      (r) => (r.status === 200 ? r.body : undefined),
      () => undefined,
    );
  const leaders = await Promise.all(access.addresses.map((a) => call(a, '/v1/status/leader')));
  const up = access.addresses.filter((_a, i) => leaders[i] !== undefined);
  for (const address of up) {
    const members = await call(address, '/v1/agent/members');
    if (members === undefined) continue;
    const all = JSON.parse(members) as Array<{ Addr: string; Status: number; Tags: Record<string, string> }>;
    return {
      at,
      leader: (JSON.parse(leaders[access.addresses.indexOf(address)]!) as string).split(':')[0] ?? '',
      up,
      members: Object.fromEntries(
        all
          .filter((m) => m.Tags.role === 'consul')
          .map((m) => [m.Addr, { version: (m.Tags.build ?? '').split(':')[0] ?? '', alive: m.Status === 1 }]),
      ),
    };
  }
  return undefined;
}

it('upgrades 3 servers inside the maintenance window, leader last, while a client keeps using KV', async () => {
  expect(older).toBeDefined();
  expect(newer).toBeDefined();
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-up/providers/HCS.Consul/clusters/up-${randomUUID().slice(0, 6)}`;
  // The window opens 3.5 minutes or more from now: creating the cluster takes less than that,
  // even on a loaded 2-core machine (90 s was not always enough).
  const window = windowStart(210_000);
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 3,
      network: { cidr: '10.63.0.0/16' },
      maintenanceWindow: { days: [window.day], startTime: window.hhmm, durationHours: 1, timeZone: 'UTC' },
      upgradePolicy: { automaticPatchUpgrades: false },
    },
  });
  const access = await clientAccess(cp, id);
  const root = (await createRootToken(cp, id)).secretId;
  const before = await serverVersions(access, root);
  expect(Object.values(before)).toEqual([older, older, older]);

  // Bad requests get precise errors and start nothing.
  for (const [body, code] of [
    [{}, 'MissingField'],
    [{ consulVersion: older }, 'ConsulVersionUnchanged'],
    [{ consulVersion: '9.9.9' }, 'UnsupportedConsulVersion'],
    [{ consulVersion: newer, force: 'yes' }, 'InvalidField'],
  ] as const) {
    const res = await arm(cp, 'POST', `${id}/upgrade`, body);
    expect(res.status, JSON.stringify(body)).toBe(400);
    expect(JSON.stringify(JSON.parse(res.body)), JSON.stringify(body)).toContain(code);
  }
  expect((await listOperations(cp.db, id.toLowerCase())).map((o) => o.kind).sort()).toEqual(['create', 'token']);

  // A client agent, and KV traffic through it: a write then a read, a round every 200 ms.
  const client = await startClientAgent(agents, {
    access,
    rootToken: root,
    consul: stack.tools.consul[older!]!,
    dir: join(work, 'client'),
    http: true,
    dnsServer: stack.acme.dnsAddress,
  });
  const rounds: Round[] = [];
  let stop = false;
  const traffic = (async () => {
    for (let i = 0; !stop; i++) {
      const at = Date.now();
      let ok = false;
      try {
        const w = await httpCall(`${client.httpUrl}/v1/kv/traffic/key`, {
          method: 'PUT',
          headers: { 'x-consul-token': root },
          body: String(i),
          timeoutInMs: 2_000,
        });
        const r = await httpCall(`${client.httpUrl}/v1/kv/traffic/key?raw`, { headers: { 'x-consul-token': root }, timeoutInMs: 2_000 });
        ok = w.status === 200 && r.status === 200 && r.body === String(i);
      } catch {
        ok = false;
      }
      rounds.push({ at, end: Date.now(), ok });
      await new Promise((res) => setTimeout(res, Math.max(0, at + 200 - Date.now())));
    }
  })();

  // Not forced: the operation waits for the window.
  const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
  expect(up.status).toBe(202);
  const [op] = await listOperations(cp.db, id.toLowerCase());
  expect(op).toMatchObject({ kind: 'upgrade' });
  expect(window.at - Date.now(), 'the upgrade was requested well before the window opens').toBeGreaterThan(10_000);
  let sawWaiting = false;
  while (Date.now() < window.at - 3_000) {
    const now = await getOperation(cp.db, op!.operationId);
    if (now?.step?.startsWith('waiting for the maintenance window')) sawWaiting = true;
    expect(Object.values(await serverVersions(access, root)).every((v) => v === older)).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  expect(sawWaiting).toBe(true);
  // From now until the end, sample the servers' view about every 100 ms (between the leadership
  // transfer and the old leader's stop there is only host-manager's sync interval, 2 s here).
  const samples: Sample[] = [];
  let observing = true;
  const observer = (async () => {
    while (observing) {
      const s = await observe(access, root);
      if (s) samples.push(s);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const done = await followLocation(cp, String(up.headers.location), 600_000);
  stop = true;
  observing = false;
  await traffic;
  await observer;
  expect(done.status).toBe(200);
  const after = await getOperation(cp.db, op!.operationId);
  expect(after).toMatchObject({ status: 'Succeeded' });
  expect(new Date(after!.endedAt!).getTime()).toBeGreaterThan(window.at);
  // A snapshot was taken once the window opened, before the servers changed.
  const snaps = await listSnapshots(cp.db, id.toLowerCase());
  const preUpgrade = snaps.find((s) => s.kind === 'UPGRADE' && s.name === `before upgrade to ${newer}`);
  expect(preUpgrade).toMatchObject({ state: 'COMPLETED', consulVersion: older });
  expect(new Date(preUpgrade!.requestedAt).getTime()).toBeGreaterThanOrEqual(window.at - 1_000);
  expect(Object.values(await serverVersions(access, root))).toEqual([newer, newer, newer]);
  const read = JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { consulVersion: string; currentConsulVersion: string } };
  expect(read.properties).toMatchObject({ consulVersion: newer, currentConsulVersion: newer });
  expect((await getClusterServers(cp.db, id.toLowerCase())).length).toBe(3);

  // Leader last, and only after leadership moved to an upgraded server.
  const addresses = Object.keys(before);
  // A server left the old version when it stopped answering or its member was no longer alive on it.
  const leftOld = (a: string) =>
    samples.find((s) => !s.up.includes(a) || !(s.members[a]?.alive && s.members[a]?.version === older))?.at ?? Infinity;
  const onNew = (a: string) => samples.find((s) => s.members[a]?.alive && s.members[a]?.version === newer)?.at ?? Infinity;
  const firstChange = Math.min(...addresses.map(leftOld));
  expect(firstChange).toBeLessThan(Infinity);
  const originalLeader = samples.filter((s) => s.at < firstChange).at(-1)?.leader;
  expect(originalLeader, 'a leader was seen before the first server changed').toBeTruthy();
  const order = [...addresses].sort((a, b) => onNew(a) - onNew(b));
  console.log(
    `[upgrade] ${samples.length} samples; leader at the start ${originalLeader}; servers on ${newer} in this order: ` +
      order
        .map((a) => `${a} (left ${older} at +${leftOld(a) - firstChange} ms, up on ${newer} at +${onNew(a) - firstChange} ms)`)
        .join(', '),
  );
  expect(order.at(-1)).toBe(originalLeader);
  const leaderLeft = leftOld(originalLeader!);
  for (const a of addresses.filter((x) => x !== originalLeader)) expect(onNew(a), a).toBeLessThan(leaderLeft);
  const handedOver = samples.find(
    (s) => s.at < leaderLeft && s.leader !== originalLeader && s.members[s.leader]?.version === newer && s.members[s.leader]?.alive,
  );
  expect(handedOver, 'leadership was on an upgraded server before the old leader went down').toBeDefined();
  console.log(`[upgrade] leadership on ${handedOver!.leader} (${newer}) ${leaderLeft - handedOver!.at} ms before the old leader went down`);

  // The client's failures: the longest stretch in which every request failed stays under 5 s.
  const failed = rounds.filter((r) => !r.ok);
  const longest = longestFailureWindow(rounds);
  const slowest = [...rounds].sort((a, b) => b.end - b.at - (a.end - a.at));
  const ms = (r: Round) => r.end - r.at;
  console.log(
    `[upgrade] ${rounds.length} write+read rounds, ${failed.length} failed; longest failure window ${longest.ms} ms` +
      (longest.from ? ` from ${new Date(longest.from).toISOString()}` : '') +
      `; round latency p50 ${ms(slowest[Math.floor(slowest.length / 2)]!)} ms, p99 ${ms(slowest[Math.floor(slowest.length / 100)]!)} ms, slowest ${ms(slowest[0]!)} ms at ${new Date(slowest[0]!.at).toISOString()}`,
  );
  expect(rounds.length).toBeGreaterThan(100);
  expect(longest.ms).toBeLessThan(5_000);
  await agents.stop();
  const del = await arm(cp, 'DELETE', id);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 900_000);
