// The fleet's aggregates on a real store (in-memory PGlite, the embedded default): clusters by
// state, the earliest certificate expiry and snapshot ages by the database's clock, clusters being
// deleted left out of the times, and only Scheduled upgrades counted as waiting.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { mergeClusterStatus, upsertCluster, type PutClusterInput } from './clusters.js';
import { openDatabase, type SqlDatabase } from './database.js';
import { fleetStats } from './fleet-stats.js';
import { migrate } from './migrate.js';
import { beginOperation } from './operations.js';

let db: SqlDatabase;
beforeAll(async () => {
  db = await openDatabase({ kind: 'pglite', dataDir: 'memory://' });
  await migrate(db);
}, 120_000);
afterAll(async () => db?.close());

const cluster = (name: string, state: string, intervalHours?: number): PutClusterInput => {
  const id = `/subscriptions/00000000-0000-0000-0000-00000000000f/resourceGroups/rg/providers/HCS.Consul/clusters/${name}`;
  return {
    resourceKey: id.toLowerCase(),
    id,
    subscriptionId: '00000000-0000-0000-0000-00000000000f',
    resourceGroup: 'rg',
    name,
    spec: { location: 'westeurope', properties: intervalHours ? { snapshotPolicy: { intervalHours, retentionCount: 3 } } : {} } as never,
    provisioningState: state,
    etag: 'W/"1"',
    systemData: null,
  };
};
const at = (secondsFromNow: number) => new Date(Date.now() + secondsFromNow * 1000).toISOString();

it('is empty for an empty fleet', async () => {
  expect(await fleetStats(db)).toEqual({
    clustersByState: [],
    earliestCertificateExpirySeconds: null,
    oldestSnapshotAgeSeconds: null,
    maxSnapshotAgeInIntervals: null,
    scheduledUpgrades: 0,
  });
});

it('aggregates the fleet without naming a cluster', async () => {
  const a = cluster('a', 'Succeeded', 4);
  const b = cluster('b', 'Succeeded');
  const c = cluster('c', 'Failed');
  const gone = cluster('gone', 'Deleting');
  for (const x of [a, b, c, gone]) await upsertCluster(db, x);
  await mergeClusterStatus(db, a.resourceKey, { earliestServerCertificateExpiry: at(7200), lastSuccessfulSnapshotTime: at(-3600) });
  await mergeClusterStatus(db, b.resourceKey, { earliestServerCertificateExpiry: at(36_000), lastSuccessfulSnapshotTime: at(-5400) });
  // Being deleted: its expired certificate and ancient snapshot are not the fleet's concern.
  await mergeClusterStatus(db, gone.resourceKey, { earliestServerCertificateExpiry: at(-60), lastSuccessfulSnapshotTime: at(-999_999) });
  const op = (resourceKey: string, kind: string, n: number) => ({
    operationId: `op-${n}`,
    resourceKey,
    subscriptionId: '00000000-0000-0000-0000-00000000000f',
    location: 'westeurope',
    kind,
    workflowId: `wf-${n}`,
    correlationId: null,
  });
  await beginOperation(db, op(a.resourceKey, 'upgrade', 1)); // waits for its window: Scheduled
  await beginOperation(db, op(c.resourceKey, 'snapshot', 2)); // Accepted, not an upgrade

  const s = await fleetStats(db);
  expect(s.clustersByState).toEqual([
    { state: 'Deleting', count: 1 },
    { state: 'Failed', count: 1 },
    { state: 'Succeeded', count: 2 },
  ]);
  expect(s.earliestCertificateExpirySeconds).toBeGreaterThan(7200 - 30);
  expect(s.earliestCertificateExpirySeconds).toBeLessThanOrEqual(7200);
  expect(s.oldestSnapshotAgeSeconds).toBeGreaterThanOrEqual(5400);
  expect(s.oldestSnapshotAgeSeconds).toBeLessThan(5400 + 30);
  // b: 1.5 of its default 1-hour interval; a: 0.25 of its 4 hours.
  expect(s.maxSnapshotAgeInIntervals).toBeGreaterThanOrEqual(1.5);
  expect(s.maxSnapshotAgeInIntervals).toBeLessThan(1.51);
  expect(s.scheduledUpgrades).toBe(1);
});
