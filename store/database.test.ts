import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDatabase, type ResolvedDatabase } from '../devstack/services/database.js';
import { openDatabase, type DatabaseConfig } from './database.js';
import { listMigrations, migrate } from './migrate.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function postgres(): Promise<DatabaseConfig> {
  const resolved: ResolvedDatabase = await resolveDatabase({
    name: `hcs_store_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
    pgliteDir: '/nonexistent',
    prefer: 'auto',
  });
  // The machine's PostgreSQL is part of the environment the tests run in (CI provides it).
  if (resolved.config.kind !== 'postgres') throw new Error('PostgreSQL on 127.0.0.1:5432 is not reachable; it is required for this test');
  cleanups.push(resolved.drop);
  return resolved.config;
}

function pglite(): DatabaseConfig {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-pglite-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return { kind: 'pglite', dataDir: dir };
}

describe.each([
  ['PostgreSQL', postgres],
  ['PGlite', async () => pglite()],
])('store on %s', (_label, config) => {
  it('runs the migrations once and round-trips a cluster record', async () => {
    const cfg = await config();
    const db = await openDatabase(cfg);
    try {
      const all = listMigrations().map((m) => m.version);
      expect(await migrate(db)).toEqual(all);
      expect(await migrate(db)).toEqual([]); // idempotent

      const id = '/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/rg1/providers/hcs.consul/clusters/c1';
      const spec = { serverCount: 3, consulVersion: '1.22.7', network: { cidr: '10.10.0.0/16' } };
      await db.query(
        `INSERT INTO clusters (resource_id, display_id, subscription_id, resource_group, name, location, tags, spec, provisioning_state, etag)
         VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [id, '00000000-0000-0000-0000-000000000001', 'rg1', 'c1', 'westeurope', { team: 'sre' }, spec, 'Accepted', 'W/"1"'],
      );
      const { rows } = await db.query<{ spec: unknown; tags: unknown; provisioning_state: string }>(
        'SELECT spec, tags, provisioning_state FROM clusters WHERE resource_id = $1',
        [id],
      );
      expect(rows).toEqual([{ spec, tags: { team: 'sre' }, provisioning_state: 'Accepted' }]);

      // The one-operation-per-cluster invariant is enforced by the schema itself.
      const op = (n: number, status: string) =>
        db.query(
          `INSERT INTO operations (operation_id, resource_id, subscription_id, kind, workflow_id, status, location) VALUES ($1, $2, 'sub', 'create', $3, $4, 'westeurope')`,
          [`op-${n}`, id, `cluster/${id}/create/${n}`, status],
        );
      await op(1, 'Running');
      await expect(op(2, 'Accepted')).rejects.toThrow(/operations_one_active_per_resource/);
      await op(3, 'Succeeded');

      // A failed transaction leaves nothing behind.
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO notifications (notification_id, kind, body) VALUES ('n1', 'subscription', '{}')`);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect((await db.query('SELECT 1 FROM notifications')).rowCount).toBe(0);
    } finally {
      await db.close();
    }
  });
});

it("runs concurrent migrations from several processes' pools without colliding (PostgreSQL)", async () => {
  const cfg = await postgres();
  const dbs = await Promise.all([1, 2, 3, 4].map(() => openDatabase(cfg)));
  try {
    const applied = await Promise.all(dbs.map((db) => migrate(db)));
    // Exactly one of them applied each migration; the others found it done.
    expect(applied.flat().sort((a, b) => a - b)).toEqual(listMigrations().map((m) => m.version));
  } finally {
    await Promise.all(dbs.map((db) => db.close()));
  }
});
