// A rolling upgrade on the full real stack: a 3-server cluster on the older built Consul
// version, with a maintenance window opening a minute or two later; a real client agent keeps
// writing and reading KV throughout. The upgrade waits for the window, takes a snapshot, moves
// followers first and the leader last after a leadership transfer; every server ends on the
// newer version, and the client's failed requests are confined to a short window, which the
// test measures and prints.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { Supervisor } from '../../devstack/supervisor.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { listSnapshots } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { arm, clientAccess, consulCall, createRootToken, followLocation, lifecycleConfig, startClientAgent } from '../support/lifecycle.js';

const stack = inject('stack');
const [older, newer] = stack.tools.consulVersions;
const work = mkdtempSync(join(tmpdir(), 'hcs-upgrade-'));
const agents = new Supervisor({ stateDir: join(work, 'supervisor') });
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
});
afterAll(async () => {
  await agents.stop();
  await cp?.close();
  rmSync(work, { recursive: true, force: true });
});

/** HH:MM in UTC, at least `minMs` from now (on a minute boundary). */
function windowStart(minMs: number): { hhmm: string; at: number; day: string } {
  const at = Math.ceil((Date.now() + minMs) / 60_000) * 60_000;
  const d = new Date(at);
  const day = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][d.getUTCDay()]!;
  return { hhmm: `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`, at, day };
}

async function serverVersions(access: { addresses: string[]; caPem: string }, token: string): Promise<Record<string, string>> {
  const res = await consulCall(access as never, access.addresses[0]!, '/v1/agent/members', token).catch(() => undefined);
  if (!res || res.status !== 200) return {};
  const members = JSON.parse(res.body) as Array<{ Addr: string; Tags: Record<string, string> }>;
  return Object.fromEntries(members.filter((m) => m.Tags.role === 'consul').map((m) => [m.Addr, (m.Tags.build ?? '').split(':')[0] ?? '']));
}

it('upgrades 3 servers inside the maintenance window, leader last, while a client keeps using KV', async () => {
  expect(older).toBeDefined();
  expect(newer).toBeDefined();
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-up/providers/HCS.Consul/clusters/up-${randomUUID().slice(0, 6)}`;
  // The window opens 90 s or more from now: creating the cluster takes less than that.
  const window = windowStart(90_000);
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 3,
      network: { cidr: '10.63.0.0/16' },
      maintenanceWindow: { days: [window.day], startTime: window.hhmm, durationHours: 1, timeZone: 'UTC' },
      upgradePolicy: { automaticPatchUpgrades: false },
    },
  });
  expect(put.status).toBe(201);
  const created = await followLocation(
    cp,
    String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'),
  );
  expect(created.status).toBe(200);
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

  // A client agent, and KV traffic through it: a write then a read every 100 ms.
  const client = await startClientAgent(agents, {
    access,
    rootToken: root,
    consul: stack.tools.consul[older!]!,
    dir: join(work, 'client'),
    http: true,
  });
  const failures: number[] = [];
  const rounds: Array<{ at: number; ms: number }> = [];
  let requests = 0;
  let stop = false;
  const traffic = (async () => {
    for (let i = 0; !stop; i++) {
      requests++;
      const started = Date.now();
      try {
        const w = await httpCall(`${client.httpUrl}/v1/kv/traffic/key`, {
          method: 'PUT',
          headers: { 'x-consul-token': root },
          body: String(i),
          timeoutInMs: 2_000,
        });
        const r = await httpCall(`${client.httpUrl}/v1/kv/traffic/key?raw`, { headers: { 'x-consul-token': root }, timeoutInMs: 2_000 });
        if (w.status !== 200 || r.status !== 200 || r.body !== String(i)) failures.push(Date.now());
      } catch {
        failures.push(Date.now());
      }
      rounds.push({ at: started, ms: Date.now() - started });
      await new Promise((res) => setTimeout(res, 100));
    }
  })();

  // Not forced: the operation waits for the window.
  const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
  expect(up.status).toBe(202);
  const [op] = await listOperations(cp.db, id.toLowerCase());
  expect(op).toMatchObject({ kind: 'upgrade' });
  let sawWaiting = false;
  while (Date.now() < window.at - 3_000) {
    const now = await getOperation(cp.db, op!.operationId);
    if (now?.step?.startsWith('waiting for the maintenance window')) sawWaiting = true;
    expect(Object.values(await serverVersions(access, root)).every((v) => v === older)).toBe(true);
    await new Promise((r) => setTimeout(r, 2_000));
  }
  expect(sawWaiting).toBe(true);
  const done = await followLocation(cp, String(up.headers.location), 600_000);
  stop = true;
  await traffic;
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

  const span = failures.length ? (failures.at(-1)! - failures[0]!) / 1000 : 0;
  console.log(
    `[upgrade] ${requests} write+read rounds, ${failures.length} failed; failures spanned ${span.toFixed(1)} s` +
      (failures.length ? ` (from ${new Date(failures[0]!).toISOString()} to ${new Date(failures.at(-1)!).toISOString()})` : ''),
  );
  const slowest = [...rounds].sort((a, b) => b.ms - a.ms);
  const p99 = slowest[Math.floor(slowest.length / 100)]!.ms;
  console.log(
    `[upgrade] round latency p50 ${slowest[Math.floor(slowest.length / 2)]!.ms} ms, p99 ${p99} ms, slowest ${slowest[0]!.ms} ms at ${new Date(slowest[0]!.at).toISOString()}`,
  );
  expect(requests).toBeGreaterThan(100);
  // Failures only around the leadership transfer: a few seconds, not spread over the upgrade.
  expect(span).toBeLessThan(15);
  await agents.stop();
  const del = await arm(cp, 'DELETE', id);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 900_000);
