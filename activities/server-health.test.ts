// The server health check's logic on a real store (PGlite) with stand-ins of our own Consul client
// and workflow starter interfaces (the real ones run in test/lifecycle/): a server first seen
// down is remembered and nothing starts; once down for the setting a repair operation is recorded
// (forced, naming why) and its workflow started; while that repair is pending nothing more is
// started; with two of three servers down only a restart is started; healthy clusters get nothing.
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OperationWorkflowStart } from '../lib/operation-starter.js';
import { setClusterServers, upsertCluster } from '../store/clusters.js';
import { openDatabase, type SqlDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { listOperations, updateOperation } from '../store/operations.js';
import { createServerHealthActivities, type DownSince, type HealthCheckOutcome, type MembershipConsul } from './server-health.js';

let db: SqlDatabase;
const started: OperationWorkflowStart[] = [];
/** Addresses that are not alive members; an address in `silent` answers nothing at all. */
const down = new Set<string>();
const silent = new Set<string>();
/** Addresses that answer but have no raft leader (a quorum lost). */
const leaderless = new Set<string>();

const consul = (url: string): MembershipConsul => {
  const self = new URL(url).hostname;
  return {
    leaderAddress: async () => {
      if (silent.has(self)) throw new Error('connection refused');
      return leaderless.has(self) ? '' : '10.0.0.4';
    },
    member: async (_token, address) => (down.has(address) ? undefined : { name: address, version: '1.22.7' }),
  };
};

type Check = ReturnType<typeof createServerHealthActivities>['checkServers'];
type CheckInput = { downSince: DownSince; repairAfterSeconds: number; subscriptionId: string };
let check: Check;
const run = (a: CheckInput) => new MockActivityEnvironment().run<[CheckInput], HealthCheckOutcome, Check>(check, a);

beforeAll(async () => {
  db = await openDatabase({ kind: 'pglite', dataDir: 'memory://' });
  await migrate(db);
  const activities = createServerHealthActivities({
    db,
    starter: {
      start: async (input) => void started.push(input),
      find: async () => 'absent',
    },
    consulAdmin: (endpoint) => consul(endpoint.url),
    pki: { clusterCaBundle: async () => 'ca' },
    secrets: { tokenSecretId: async () => 'token' },
  });
  check = (a) => activities.checkServers(a);
}, 120_000);
afterAll(async () => {
  await db?.close();
});

async function cluster(sub: string, name: string, count: number, block: number) {
  const id = `/subscriptions/${sub}/resourceGroups/rg/providers/HCS.Consul/clusters/${name}`;
  const key = id.toLowerCase();
  await upsertCluster(db, {
    resourceKey: key,
    id,
    subscriptionId: sub,
    resourceGroup: 'rg',
    name,
    spec: { location: 'westeurope', properties: { serverCount: count } } as never,
    provisioningState: 'Succeeded',
    etag: '"1"',
    systemData: null,
  });
  const servers = [...Array(count).keys()].map((index) => ({
    index,
    name: `${name}-server-${index}`,
    zone: '1',
    address: `10.${block}.0.${index + 4}`,
  }));
  await setClusterServers(db, key, servers, {});
  return { key, servers };
}

it('remembers a server seen down, repairs it once down for the setting, one at a time; two of three down: a restart only', async () => {
  const sub = randomUUID();
  const sick = await cluster(sub, 'sick', 3, 1);
  const fine = await cluster(sub, 'fine', 3, 2);
  const worse = await cluster(sub, 'worse', 3, 3);
  down.add(sick.servers[1]!.address);
  down.add(worse.servers[0]!.address);
  down.add(worse.servers[2]!.address);

  // First sight: remembered from now, nothing started.
  const first = await run({ downSince: {}, repairAfterSeconds: 2, subscriptionId: sub });
  expect(first.started).toEqual([]);
  expect(Object.keys(first.downSince).sort()).toEqual([sick.key, worse.key].sort());
  expect(Object.keys(first.downSince[sick.key]!)).toEqual(['1']);
  expect(await listOperations(db, sick.key)).toEqual([]);

  // Down for the setting: a forced repair of that server, its workflow started; for the cluster
  // with two of three down only a restart of the one down longest.
  await new Promise((r) => setTimeout(r, 2_100));
  const second = await run({ downSince: first.downSince, repairAfterSeconds: 2, subscriptionId: sub });
  expect(second.started.map((s) => [s.resourceKey, s.kind, s.serverIndex]).sort()).toEqual(
    [
      [sick.key, 'repair', 1],
      [worse.key, 'restart', 0],
    ].sort(),
  );
  const [repair] = await listOperations(db, sick.key);
  expect(repair).toMatchObject({ kind: 'repair', status: 'Scheduled' });
  const start = started.find((s) => s.operationId === repair!.operationId)!;
  expect(start.params).toMatchObject({ serverIndex: 1, force: true });
  expect(start.params?.detectedProblem).toMatch(/sick-server-1 not an alive member for \d+ s/);
  expect(await listOperations(db, fine.key)).toEqual([]);

  // Still down while the repair is pending: nothing more is started.
  await new Promise((r) => setTimeout(r, 2_100));
  const third = await run({ downSince: second.downSince, repairAfterSeconds: 2, subscriptionId: sub });
  expect(third.started).toEqual([]);
  expect(await listOperations(db, sick.key)).toHaveLength(1);

  // The repair ended and the server is back: forgotten, nothing started.
  await updateOperation(db, repair!.operationId, { status: 'Succeeded' });
  down.delete(sick.servers[1]!.address);
  const fourth = await run({ downSince: third.downSince, repairAfterSeconds: 2, subscriptionId: sub });
  expect(fourth.downSince[sick.key]).toBeUndefined();
  expect(fourth.started.filter((s) => s.resourceKey === sick.key)).toEqual([]);
}, 60_000);

it('a cluster whose servers all stay silent counts every server down and gets a restart, never a reimage', async () => {
  const sub = randomUUID();
  const dark = await cluster(sub, 'dark', 3, 4);
  for (const s of dark.servers) silent.add(s.address);
  const first = await run({ downSince: {}, repairAfterSeconds: 1, subscriptionId: sub });
  await new Promise((r) => setTimeout(r, 1_100));
  const second = await run({ downSince: first.downSince, repairAfterSeconds: 1, subscriptionId: sub });
  expect(second.started.map((s) => s.kind)).toEqual(['restart']);
}, 60_000);

it('two of three servers dead and no leader: the survivor is not counted down (its gossip view counts), only a dead one is restarted', async () => {
  const sub = randomUUID();
  const lost = await cluster(sub, 'lost', 3, 5);
  silent.add(lost.servers[0]!.address);
  silent.add(lost.servers[1]!.address);
  down.add(lost.servers[0]!.address);
  down.add(lost.servers[1]!.address);
  leaderless.add(lost.servers[2]!.address);
  const first = await run({ downSince: {}, repairAfterSeconds: 1, subscriptionId: sub });
  expect(Object.keys(first.downSince[lost.key]!).sort()).toEqual(['0', '1']);
  await new Promise((r) => setTimeout(r, 1_100));
  const second = await run({ downSince: first.downSince, repairAfterSeconds: 1, subscriptionId: sub });
  expect(second.started.map((s) => [s.kind, s.serverIndex])).toEqual([['restart', 0]]);
  const start = started.find((s) => s.operationId === second.started[0]!.operationId)!;
  expect(start.params?.detectedProblem).toMatch(
    /lost-server-0 not an alive member \(no raft leader\) for \d+ s.*2 of 3 servers down, no quorum/,
  );
}, 60_000);
