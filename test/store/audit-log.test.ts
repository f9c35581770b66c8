// The audit log's chain on the real store database: rows appended by requests and by operation
// state changes (the trigger), concurrent appends making one chain without forks, appends that
// never wait for one another (the inbox) and are chained in commit order, rows that
// cannot be updated or deleted in the chain or the inbox, verification finding a tampered, removed or inserted row (also
// through `npm run audit:verify`), and retention pruning that keeps the chain verifiable. Tests
// that tamper or prune use a database of their own, so the run's shared one stays intact.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { resolveDatabase } from '../../devstack/services/database.js';
import {
  appendAuditEntry,
  auditContent,
  auditHash,
  chainAuditLog,
  pruneAuditLog,
  pruneAuditLogBefore,
  queryAuditLog,
  setAuditCaller,
  verifyAuditChain,
  type NewAuditEntry,
} from '../../store/audit-log.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import { beginOperation, recordOperationProgress, updateOperation } from '../../store/operations.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { newOperation, useStoreDatabase } from '../support/store-fixture.js';

const database = useStoreDatabase();
const run = promisify(execFile);

function entry(subscriptionId: string, over: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    subscriptionId,
    resourceId: `/subscriptions/${subscriptionId}/resourceGroups/rg/providers/HCS.Consul/clusters/c1`,
    action: 'HCS.Consul/clusters/write',
    outcome: '201',
    errorCode: null,
    caller: 'operator:test',
    applicationId: null,
    clientAddress: '127.0.0.1',
    correlationId: randomUUID(),
    requestId: randomUUID(),
    ...over,
  };
}

/** A migrated database of the test's own (PostgreSQL when the run has it), dropped afterwards. */
const privates: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const drop of privates) await drop();
});
async function privateDatabase(): Promise<{ db: SqlDatabase; url?: string }> {
  const shared = inject('stack').database;
  const resolved = await resolveDatabase({
    name: `hcs_audit_${randomUUID().replace(/-/g, '').slice(0, 16)}`,
    pgliteDir: mkdtempSync(join(tmpdir(), 'hcs-audit-')),
    prefer: shared.kind === 'postgres' ? 'auto' : 'pglite',
    ...(shared.kind === 'postgres' ? { serverUrls: [Object.assign(new URL(shared.url), { pathname: '/postgres' }).toString()] } : {}),
  });
  const db = await openDatabase(resolved.config);
  privates.push(async () => {
    await db.close();
    await resolved.drop();
  });
  await migrate(db);
  return { db, ...(resolved.config.kind === 'postgres' ? { url: resolved.config.url } : {}) };
}

/** Bypasses the append-only guard as someone with the database's owner rights would, to tamper. */
async function asTamperer(db: SqlDatabase, sql: string, params: unknown[] = []): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`);
    await tx.query(sql, params);
    await tx.query(`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`);
  });
}

it('a request row is appended with its fields, and the hash covers exactly what hcs_audit_content says', async () => {
  const sub = randomUUID();
  await appendAuditEntry(database(), entry(sub, { caller: 'user:ünïcode-✓', errorCode: 'Conflict', outcome: '409' }));
  const { items } = await queryAuditLog(database(), { subscriptionId: sub, limit: 10 });
  expect(items).toHaveLength(1);
  const seq = items[0]!.seq;
  expect(items[0]).toMatchObject({ category: 'request', caller: 'user:ünïcode-✓', outcome: '409', errorCode: 'Conflict' });
  const sql = await database().query<{ c: string }>(`SELECT hcs_audit_content(a) AS c FROM audit_log a WHERE seq = $1::bigint`, [seq]);
  expect(auditContent(items[0]!)).toBe(sql.rows[0]!.c);
  expect((await verifyAuditChain(database())).ok).toBe(true);
});

it("every state change of an operation is a row naming the request's caller; progress without a change is not", async () => {
  const sub = randomUUID();
  const key = `/subscriptions/${sub}/resourcegroups/rg/providers/hcs.consul/clusters/audited`;
  const op = { ...newOperation(key, 'create'), subscriptionId: sub };
  await database().transaction(async (tx) => {
    await setAuditCaller(tx, 'user:alice');
    await beginOperation(tx, op);
  });
  await recordOperationProgress(database(), op.operationId, 'plan', 10); // Accepted -> Running
  await recordOperationProgress(database(), op.operationId, 'apply', 50); // no change of state
  await updateOperation(database(), op.operationId, { status: 'Failed', error: { code: 'TerraformFailed', message: 'no' } });
  const { items } = await queryAuditLog(database(), { subscriptionId: sub, limit: 10 });
  expect(items.map((i) => [i.category, i.action, i.outcome, i.errorCode, i.caller, i.operationId]).reverse()).toEqual([
    ['operation', 'HCS.Consul/operations/create', 'Accepted', null, 'user:alice', op.operationId],
    ['operation', 'HCS.Consul/operations/create', 'Running', null, 'user:alice', op.operationId],
    ['operation', 'HCS.Consul/operations/create', 'Failed', 'TerraformFailed', 'user:alice', op.operationId],
  ]);
  expect(items.every((i) => i.resourceId === key)).toBe(true);
});

it('a state change rolled back leaves no row: the row is written in the transaction that makes the change', async () => {
  const sub = randomUUID();
  const key = `/subscriptions/${sub}/resourcegroups/rg/providers/hcs.consul/clusters/rolled`;
  await expect(
    database().transaction(async (tx) => {
      await beginOperation(tx, { ...newOperation(key, 'create'), subscriptionId: sub });
      throw new Error('the caller fails after recording');
    }),
  ).rejects.toThrow('the caller fails');
  expect((await queryAuditLog(database(), { subscriptionId: sub, limit: 10 })).items).toEqual([]);
});

it('rows cannot be updated or deleted (the append-only guard), and nothing changes', async () => {
  const sub = randomUUID();
  await appendAuditEntry(database(), entry(sub));
  const { seq } = (await queryAuditLog(database(), { subscriptionId: sub, limit: 1 })).items[0]!;
  await expect(database().query(`UPDATE audit_log SET outcome = '200' WHERE seq = $1::bigint`, [seq])).rejects.toThrow(/append-only/);
  await expect(database().query(`DELETE FROM audit_log WHERE seq = $1::bigint`, [seq])).rejects.toThrow(/append-only/);
  expect((await queryAuditLog(database(), { subscriptionId: sub, limit: 10 })).items[0]).toMatchObject({ seq, outcome: '201' });
});

it('a row waiting in the inbox cannot be updated or deleted either; it is chained as written', async () => {
  const { db } = await privateDatabase();
  const sub = randomUUID();
  await appendAuditEntry(db, entry(sub, { outcome: '202' }));
  await expect(db.query(`UPDATE audit_log_inbox SET outcome = '200'`)).rejects.toThrow(/append-only/);
  await expect(db.query(`DELETE FROM audit_log_inbox`)).rejects.toThrow(/append-only/);
  expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log_inbox`)).rows[0]!.n)).toBe(1);
  expect(await chainAuditLog(db)).toBe(1);
  expect(Number((await db.query<{ n: string }>(`SELECT count(*) AS n FROM audit_log_inbox`)).rows[0]!.n)).toBe(0);
  expect((await queryAuditLog(db, { subscriptionId: sub, limit: 10 })).items).toMatchObject([{ seq: '1', outcome: '202' }]);
});

it.skipIf(inject('stack').database.kind !== 'postgres')(
  'appends do not wait for one another: an append in a transaction still open holds up no other, and is chained once it commits',
  async () => {
    const { db } = await privateDatabase();
    const sub = randomUUID();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let appended!: () => void;
    const hasAppended = new Promise<void>((r) => (appended = r));
    // A request's row and an operation's, in a transaction that stays open.
    const open = db.transaction(async (tx) => {
      await appendAuditEntry(tx, entry(sub, { requestId: 'slow' }));
      const key = `/subscriptions/${sub}/resourcegroups/rg/providers/hcs.consul/clusters/slow`;
      await beginOperation(tx, { ...newOperation(key, 'update'), subscriptionId: sub });
      appended();
      await released;
    });
    await hasAppended;
    // Another connection's append commits at once (the chain's head row used to be held until
    // the open transaction committed); bounded, so a wait fails the test instead of hanging it.
    const other = appendAuditEntry(db, entry(sub, { requestId: 'quick' })).then(() => 'committed');
    const waited = new Promise((r) => setTimeout(() => r('still waiting after 5 s'), 5_000));
    expect(await Promise.race([other, waited])).toBe('committed');
    // Chaining sees only what has committed.
    expect(await chainAuditLog(db)).toBe(1);
    release();
    await open;
    expect(await chainAuditLog(db)).toBe(2);
    const items = (await queryAuditLog(db, { subscriptionId: sub, limit: 10 })).items;
    expect(items.map((i) => [i.seq, i.requestId ?? i.outcome])).toEqual([
      ['3', 'Accepted'],
      ['2', 'slow'],
      ['1', 'quick'],
    ]);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, rows: 3, firstSeq: '1', lastSeq: '3' });
  },
);

it('concurrent appends - requests and operation state changes from many connections - make one chain without forks', async () => {
  const sub = randomUUID();
  const before = (await verifyAuditChain(database())) as { ok: true; rows: number };
  expect(before.ok).toBe(true);
  const requests = Array.from({ length: 40 }, (_, i) => appendAuditEntry(database(), entry(sub, { requestId: `r-${i}` })));
  const operations = Array.from({ length: 10 }, (_, i) =>
    database().transaction(async (tx) => {
      const key = `/subscriptions/${sub}/resourcegroups/rg/providers/hcs.consul/clusters/c${i}`;
      const op = { ...newOperation(key, 'update'), subscriptionId: sub };
      await beginOperation(tx, op);
      await updateOperation(tx, op.operationId, { status: 'Running' });
    }),
  );
  await Promise.all([...requests, ...operations]);
  const { items } = await queryAuditLog(database(), { subscriptionId: sub, limit: 100 });
  expect(items).toHaveLength(60);
  const seqs = items.map((i) => BigInt(i.seq));
  expect(new Set(seqs).size).toBe(60);
  const after = await verifyAuditChain(database());
  expect(after).toMatchObject({ ok: true });
  expect((after as { rows: number }).rows).toBeGreaterThanOrEqual(before.rows + 60);
  // No two rows name the same previous hash: one chain.
  const forks = await database().query<{ n: string | number }>(
    `SELECT count(*) AS n FROM (SELECT prev_hash FROM audit_log GROUP BY prev_hash HAVING count(*) > 1) f`,
  );
  expect(Number(forks.rows[0]!.n)).toBe(0);
});

it.skipIf(inject('stack').database.kind !== 'postgres')(
  "no deadlock: a transaction that changes an operation and then locks a cluster's row runs beside one that locks the row first",
  async () => {
    const sub = randomUUID();
    const key = `/subscriptions/${sub}/resourcegroups/rg/providers/hcs.consul/clusters/locks`;
    await database().query(
      `INSERT INTO clusters (resource_id, display_id, subscription_id, resource_group, name, location, spec, provisioning_state, etag)
       VALUES ($1, $1, $2, 'rg', 'locks', 'westeurope', '{}'::jsonb, 'Succeeded', '"e0"')`,
      [key, sub],
    );
    const [first, second] = [newOperation(key, 'snapshot'), newOperation(`${key}-other`, 'snapshot')];
    for (const op of [first, second]) await beginOperation(database(), { ...op, subscriptionId: sub });
    let firstChanged!: () => void;
    const firstHasChanged = new Promise<void>((r) => (firstChanged = r));
    let secondLocked!: () => void;
    const secondHasLocked = new Promise<void>((r) => (secondLocked = r));
    // As failOperation does: the operation first, then the cluster's row.
    const one = database().transaction(async (tx) => {
      await updateOperation(tx, first.operationId, { status: 'Failed', error: { code: 'X', message: 'x' } });
      firstChanged();
      await secondHasLocked;
      await tx.query(`UPDATE clusters SET provisioning_state = 'Failed' WHERE resource_id = $1`, [key]);
    });
    // As a delete does: the cluster's row first, then an operation.
    const two = database().transaction(async (tx) => {
      await firstHasChanged;
      await tx.query(`UPDATE clusters SET provisioning_state = 'Deleting' WHERE resource_id = $1`, [key]);
      secondLocked();
      await updateOperation(tx, second.operationId, { status: 'Canceling' });
    });
    await Promise.all([one, two]);
    const outcomes = (await queryAuditLog(database(), { subscriptionId: sub, limit: 10 })).items.map((i) => i.outcome);
    expect(outcomes.sort()).toEqual(['Accepted', 'Accepted', 'Canceling', 'Failed']);
  },
);

describe('verification (a database of its own)', () => {
  it('finds a changed row (UPDATE past the guard), a removed row and an inserted row, naming the first bad one', async () => {
    const { db } = await privateDatabase();
    const sub = randomUUID();
    for (let i = 0; i < 6; i++) await appendAuditEntry(db, entry(sub, { requestId: `r-${i}` }));
    expect(await verifyAuditChain(db)).toEqual({ ok: true, rows: 6, firstSeq: '1', lastSeq: '6' });

    await asTamperer(db, `UPDATE audit_log SET outcome = '403', error_code = 'AuthorizationFailed' WHERE seq = 3`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, badSeq: '3', rows: 2, reason: expect.stringContaining('was changed') });
    await asTamperer(db, `UPDATE audit_log SET outcome = '201', error_code = NULL WHERE seq = 3`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 6 });

    await asTamperer(db, `DELETE FROM audit_log WHERE seq = 4`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, badSeq: '4', reason: expect.stringContaining('missing') });
  });

  it('a removed last row is found through the head, a row put back under another number through its previous hash', async () => {
    const { db } = await privateDatabase();
    const sub = randomUUID();
    for (let i = 0; i < 4; i++) await appendAuditEntry(db, entry(sub));
    await chainAuditLog(db);
    await asTamperer(db, `DELETE FROM audit_log WHERE seq = 4`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, badSeq: '4', reason: expect.stringContaining('head names row 4') });

    const { db: other } = await privateDatabase();
    for (let i = 0; i < 3; i++) await appendAuditEntry(other, entry(sub));
    await chainAuditLog(other);
    // Row 2 removed and row 3 renumbered 2: the numbers have no gap, the hashes do not join.
    await asTamperer(other, `DELETE FROM audit_log WHERE seq = 2`);
    await asTamperer(other, `UPDATE audit_log SET seq = 2 WHERE seq = 3`);
    expect(await verifyAuditChain(other)).toMatchObject({ ok: false, badSeq: '2' });
  });

  it('pruning deletes the oldest rows up to the cutoff and the rest still verifies from the anchor; a prune again deletes nothing', async () => {
    const { db } = await privateDatabase();
    const sub = randomUUID();
    for (let i = 0; i < 3; i++) await appendAuditEntry(db, entry(sub, { requestId: `old-${i}` }));
    await new Promise((r) => setTimeout(r, 20));
    const cutoff = new Date();
    await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 2; i++) await appendAuditEntry(db, entry(sub, { requestId: `new-${i}` }));
    expect(await pruneAuditLogBefore(db, cutoff)).toBe(3);
    expect(await pruneAuditLogBefore(db, cutoff)).toBe(0);
    const left = (await queryAuditLog(db, { subscriptionId: sub, limit: 10 })).items.map((i) => i.requestId);
    expect(left).toEqual(['new-1', 'new-0']);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, rows: 2, firstSeq: '4', lastSeq: '5' });
    // Pruning bypasses nothing else: a row removed by hand after it is still found.
    await asTamperer(db, `DELETE FROM audit_log WHERE seq = 4`);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: false, badSeq: '4' });
  });

  it('pruneAuditLog deletes the rows older than the retention in days and keeps the newer ones', async () => {
    const { db } = await privateDatabase();
    const sub = randomUUID();
    for (let i = 0; i < 4; i++) await appendAuditEntry(db, entry(sub, { requestId: `r-${i}` }));
    await chainAuditLog(db);
    // Rows 1 and 2 made 500 and 401 days old, their chain rehashed as if written then.
    await asTamperer(db, `UPDATE audit_log SET event_time = now() - interval '500 days' WHERE seq = 1`);
    await asTamperer(db, `UPDATE audit_log SET event_time = now() - interval '401 days' WHERE seq = 2`);
    let prev: Uint8Array = Buffer.alloc(32);
    const all = await db.query<{ seq: string }>(`SELECT seq::text AS seq FROM audit_log ORDER BY seq`);
    for (const { seq } of all.rows) {
      const [row] = (await queryAuditLog(db, { subscriptionId: sub, beforeSeq: String(Number(seq) + 1), limit: 1 })).items;
      const hash = auditHash(prev, row!);
      await asTamperer(db, `UPDATE audit_log SET prev_hash = $2, hash = $3 WHERE seq = $1::bigint`, [seq, prev, hash]);
      prev = hash;
    }
    await db.query(`UPDATE audit_log_head SET hash = $1`, [prev]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 4 });
    expect(await pruneAuditLog(db, 400)).toBe(2);
    expect(await verifyAuditChain(db)).toEqual({ ok: true, rows: 2, firstSeq: '3', lastSeq: '4' });
    await expect(pruneAuditLog(db, 0)).rejects.toThrow('at least 1');
  });

  it.skipIf(inject('stack').database.kind !== 'postgres')(
    'npm run audit:verify exits 0 with the count, and 1 naming the first bad row after an UPDATE in SQL',
    async () => {
      const { db, url } = await privateDatabase();
      const sub = randomUUID();
      for (let i = 0; i < 5; i++) await appendAuditEntry(db, entry(sub));
      const verify = () =>
        run('npm', ['run', '--silent', 'audit:verify'], { cwd: repoRoot, env: { ...process.env, HCS_DATABASE_URL: url } }).then(
          (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
          (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
        );
      const good = await verify();
      expect(good).toMatchObject({ code: 0 });
      expect(good.out).toContain('audit log chain intact: 5 rows (sequence 1 to 5)');
      // Without HCS_DATABASE_URL it reads the store the processes' HCS_DATABASE names.
      const viaSetting = await run('npm', ['run', '--silent', 'audit:verify'], {
        cwd: repoRoot,
        env: { ...process.env, HCS_DATABASE_URL: '', HCS_DATABASE: JSON.stringify({ kind: 'postgres', url }) },
      });
      expect(viaSetting.stdout).toContain('audit log chain intact: 5 rows');

      await asTamperer(db, `UPDATE audit_log SET caller = 'operator:someone-else' WHERE seq = 2`);
      const bad = await verify();
      expect(bad.code).toBe(1);
      expect(bad.err).toContain('audit log chain broken at row 2');

      const missing = await run('npm', ['run', '--silent', 'audit:verify'], {
        cwd: repoRoot,
        env: { ...process.env, HCS_DATABASE_URL: '', HCS_DATABASE: '' },
      }).then(
        () => 0,
        (e: { code: number }) => e.code,
      );
      expect(missing).toBe(2);
    },
  );
});
