// Names derived from each cluster's random id, on a real store (PGlite, the embedded default):
// the id is made with the record and never changes, names fit every naming rule, clusters that
// predate ids (migration 0006) keep the names they were built with, and ownership marks decide
// what is whose.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { upsertCluster, type PutClusterInput } from '../store/clusters.js';
import { isUniqueViolation, openDatabase, type SqlDatabase } from '../store/database.js';
import { listMigrations, migrate } from '../store/migrate.js';
import { claim, DERIVED_NAME_OWNED, derivedNames, namesFromKey, ownership, storeClusterNames } from './cluster-names.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-names-'));
let db: SqlDatabase;
const legacyKey = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourcegroups/rg/providers/hcs.consul/clusters/old';

beforeAll(async () => {
  db = await openDatabase({ kind: 'pglite', dataDir: dir });
  // A cluster recorded before migration 0006.
  await migrate(
    db,
    listMigrations().filter((m) => m.version < 6),
  );
  await db.query(
    `INSERT INTO clusters (resource_id, display_id, subscription_id, resource_group, name, location, spec, provisioning_state, etag)
     VALUES ($1, $1, '00000000-0000-0000-0000-00000000000a', 'rg', 'old', 'westeurope', '{}', 'Succeeded', 'W/"1"')`,
    [legacyKey],
  );
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const put = (name: string): PutClusterInput => {
  const id = `/subscriptions/00000000-0000-0000-0000-00000000000b/resourceGroups/rg/providers/HCS.Consul/clusters/${name}`;
  return {
    resourceKey: id.toLowerCase(),
    id,
    subscriptionId: '00000000-0000-0000-0000-00000000000b',
    resourceGroup: 'rg',
    name,
    spec: { location: 'westeurope', properties: {} } as never,
    provisioningState: 'Accepted',
    etag: 'W/"1"',
    systemData: null,
  };
};

it('gives a new cluster a 128-bit random id with its record, kept by every update, and names from it', async () => {
  const names = storeClusterNames(db);
  const a = put('orders');
  await upsertCluster(db, a);
  const first = await names(a.resourceKey);
  expect(first.clusterId).toMatch(/^[0-9a-f]{32}$/);
  expect(first.names).toEqual(derivedNames('orders', first.clusterId));
  expect(first.names).toEqual({
    dnsLabel: `orders-${first.clusterId}`,
    infraResourceGroup: `hcs-orders-${first.clusterId}`,
    pkiMount: `pki-cluster-${first.clusterId}`,
    container: `cluster-${first.clusterId}`,
    terraformState: `hcs_${first.clusterId}`,
  });
  await upsertCluster(db, { ...a, provisioningState: 'Updating', etag: 'W/"2"' });
  expect(await names(a.resourceKey)).toEqual(first);
  // Same name in another resource group: another id, so no name in common.
  const b = { ...put('orders'), resourceKey: a.resourceKey.replace('/rg/', '/rg2/'), resourceGroup: 'rg2' };
  await upsertCluster(db, b);
  const second = await names(b.resourceKey);
  expect(second.clusterId).not.toBe(first.clusterId);
  for (const k of Object.keys(first.names) as Array<keyof typeof first.names>) expect(second.names[k]).not.toBe(first.names[k]);
  // The store refuses two clusters with one id.
  const dup = await db
    .query('UPDATE clusters SET cluster_uid = $1 WHERE resource_id = $2', [first.clusterId, b.resourceKey])
    .catch((e: unknown) => e);
  expect(isUniqueViolation(dup)).toBe(true);
  await expect(names('/subscriptions/x/resourcegroups/rg/providers/hcs.consul/clusters/none')).rejects.toMatchObject({
    type: 'ClusterNotFound',
  });
});

it('keeps every name within its rules, also for the longest cluster name', () => {
  const id = 'f'.repeat(32);
  const n = derivedNames(`a${'b-'.repeat(23)}c`, id); // 48 characters, a hyphen at the cut
  expect(n.dnsLabel.length).toBeLessThanOrEqual(63);
  expect(n.dnsLabel).toMatch(/^[a-z]([a-z0-9-]*[a-z0-9])?$/);
  expect(n.dnsLabel).not.toMatch(/--/);
  expect(n.dnsLabel.endsWith(`-${id}`)).toBe(true);
  expect(n.infraResourceGroup.length).toBeLessThanOrEqual(90);
  expect(n.container).toMatch(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/);
  expect(n.pkiMount).toMatch(/^[a-z0-9-]+$/);
  expect(n.terraformState).toMatch(/^[a-z0-9_]+$/);
});

it('a cluster from before ids gets an id from the migration and keeps the names it was built with', async () => {
  const legacy = await storeClusterNames(db)(legacyKey);
  expect(legacy.clusterId).toMatch(/^[0-9a-f]{32}$/);
  expect(legacy.names).toEqual(namesFromKey(legacyKey));
  expect(legacy.names.container).toMatch(/^cluster-[0-9a-f]{32}$/);
  expect(legacy.names.dnsLabel).toMatch(/^old-[0-9a-f]{8}$/);
});

it('the test-only override derives the listed names from another id; the owner stays the cluster', async () => {
  const a = put('forced');
  await upsertCluster(db, a);
  const forced = 'a'.repeat(32);
  const own = await storeClusterNames(db)(a.resourceKey);
  const some = await storeClusterNames(db, { override: { [a.resourceKey]: { clusterId: forced, names: ['dnsLabel', 'container'] } } })(
    a.resourceKey,
  );
  expect(some.owner).toEqual({ clusterId: own.clusterId });
  expect(some.names).toEqual({ ...own.names, dnsLabel: `forced-${forced}`, container: `cluster-${forced}` });
  const all = await storeClusterNames(db, { override: { [a.resourceKey]: { clusterId: forced } } })(a.resourceKey);
  expect(all.names).toEqual(derivedNames('forced', forced));
});

it('decides whose a thing is from the id found on it', () => {
  const owner = { clusterId: '1'.repeat(32) };
  expect(ownership(undefined, owner)).toBe('free');
  expect(ownership(owner.clusterId, owner)).toBe('ours');
  expect(ownership(null, owner)).toBe('ours');
  expect(ownership('2'.repeat(32), owner)).toBe('foreign');
  expect(() => claim('the thing x', '2'.repeat(32), owner)).toThrow(
    expect.objectContaining({
      type: DERIVED_NAME_OWNED,
      nonRetryable: true,
      message: expect.stringMatching(/^the thing x is already in use by another cluster/),
    }),
  );
});
