// The audit log: one row per mutating API request and per operation state change, chained by
// SHA-256 (store/migrations/0010_audit_log.sql, 0013_audit_log_inbox.sql). Rows are appended by
// the database function hcs_audit_append - by appendAuditEntry for requests, by a trigger on
// `operations` for every state change, in the transaction that makes it - to an inbox, without a
// lock, so appends never wait for each other; chainAuditLog moves them into the chain in batches
// (readers and the verifier first, every API replica every second). Nothing is ever updated.
// verifyAuditChain recomputes every hash here, independently of the database's functions;
// pruneAuditLog deletes rows past the retention and keeps the chain verifiable from the last
// deleted row's hash.
import { createHash } from 'node:crypto';
import type { SqlDatabase, SqlExecutor } from './database.js';

/** The longest value a text field keeps (longer ones are cut, marked with an ellipsis). */
export const MAX_AUDIT_FIELD = 2048;

export interface NewAuditEntry {
  subscriptionId: string | null;
  resourceId: string | null;
  action: string;
  outcome: string;
  errorCode: string | null;
  caller: string;
  applicationId: string | null;
  clientAddress: string | null;
  correlationId: string | null;
  requestId: string | null;
}

export interface AuditEntry extends NewAuditEntry {
  seq: string;
  eventTime: string;
  category: 'request' | 'operation';
  operationId: string | null;
}

const cut = (v: string | null): string | null => (v !== null && v.length > MAX_AUDIT_FIELD ? `${v.slice(0, MAX_AUDIT_FIELD)}…` : v);

/** Appends a request's row (one statement, to the inbox: chainAuditLog gives it its place in the chain). */
export async function appendAuditEntry(db: SqlExecutor, e: NewAuditEntry): Promise<void> {
  await db.query(
    `SELECT hcs_audit_append('request', $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL)`,
    [
      e.subscriptionId?.toLowerCase() ?? null,
      cut(e.resourceId),
      cut(e.action),
      cut(e.outcome),
      cut(e.errorCode),
      cut(e.caller),
      cut(e.applicationId),
      cut(e.clientAddress),
      cut(e.correlationId),
      cut(e.requestId),
    ],
    { name: 'audit-append' },
  );
}

/** Rows chainAuditLog moves per transaction. */
const CHAIN_BATCH = 1000;

/**
 * Moves every row committed to the inbox into the chain, oldest first, a batch per transaction
 * (hcs_audit_chain; chainers run one at a time). Returns how many rows it chained.
 */
export async function chainAuditLog(db: SqlExecutor): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await db.query<{ n: number }>('SELECT hcs_audit_chain($1) AS n', [CHAIN_BATCH], { name: 'audit-chain' });
    const n = Number(rows[0]?.n ?? 0);
    total += n;
    if (n < CHAIN_BATCH) return total;
  }
}

/**
 * Names the caller of the operations recorded in this transaction (the API caller's subject):
 * the operations it begins record it as started_by, which the audit rows of their state changes
 * name (a trigger, store/migrations/0010_audit_log.sql); without it they name `system`.
 */
export async function setAuditCaller(tx: SqlExecutor, subject: string): Promise<void> {
  await tx.query(`SELECT set_config('hcs.audit_caller', $1, true)`, [cut(subject)]);
}

export interface AuditQuery {
  subscriptionId: string;
  from?: string;
  to?: string;
  resourceId?: string;
  caller?: string;
  action?: string;
  /** Rows older than this sequence number (the page before). */
  beforeSeq?: string;
  limit: number;
}

interface Row {
  seq: string | number;
  event_time_text: string;
  category: 'request' | 'operation';
  subscription_id: string | null;
  resource_id: string | null;
  action: string;
  outcome: string;
  error_code: string | null;
  caller: string;
  application_id: string | null;
  client_address: string | null;
  correlation_id: string | null;
  request_id: string | null;
  operation_id: string | null;
}

const COLUMNS = `seq, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS event_time_text, category,
  subscription_id, resource_id, action, outcome, error_code, caller, application_id, client_address, correlation_id,
  request_id, operation_id`;

function toEntry(r: Row): AuditEntry {
  return {
    seq: String(r.seq),
    eventTime: r.event_time_text,
    category: r.category,
    subscriptionId: r.subscription_id,
    resourceId: r.resource_id,
    action: r.action,
    outcome: r.outcome,
    errorCode: r.error_code,
    caller: r.caller,
    applicationId: r.application_id,
    clientAddress: r.client_address,
    correlationId: r.correlation_id,
    requestId: r.request_id,
    operationId: r.operation_id,
  };
}

/**
 * One page of a subscription's rows, newest first. Only rows of `subscriptionId` are ever read,
 * whatever the other conditions say; resource ids and callers match without regard to case.
 */
export async function queryAuditLog(db: SqlExecutor, q: AuditQuery): Promise<{ items: AuditEntry[]; more: boolean }> {
  // Whatever was written before this read is in the chain when it is read.
  await chainAuditLog(db);
  const { rows } = await db.query<Row>(
    `SELECT ${COLUMNS} FROM audit_log
      WHERE subscription_id = $1
        AND ($2::timestamptz IS NULL OR event_time >= $2::timestamptz)
        AND ($3::timestamptz IS NULL OR event_time <= $3::timestamptz)
        AND ($4::text IS NULL OR lower(resource_id) = lower($4::text))
        AND ($5::text IS NULL OR lower(caller) = lower($5::text))
        AND ($6::text IS NULL OR lower(action) = lower($6::text))
        AND ($7::bigint IS NULL OR seq < $7::bigint)
      ORDER BY seq DESC LIMIT $8`,
    [
      q.subscriptionId.toLowerCase(),
      q.from ?? null,
      q.to ?? null,
      q.resourceId ?? null,
      q.caller ?? null,
      q.action ?? null,
      q.beforeSeq ?? null,
      q.limit + 1,
    ],
  );
  return { items: rows.slice(0, q.limit).map(toEntry), more: rows.length > q.limit };
}

/** The hashed content of a row: each field as its UTF-8 length, ':' and the value; '~' for null (hcs_audit_content). */
export function auditContent(e: AuditEntry): string {
  const field = (v: string | null) => (v === null ? '~' : `${Buffer.byteLength(v, 'utf8')}:${v}`);
  return [
    e.seq,
    e.eventTime,
    e.category,
    e.subscriptionId,
    e.resourceId,
    e.action,
    e.outcome,
    e.errorCode,
    e.caller,
    e.applicationId,
    e.clientAddress,
    e.correlationId,
    e.requestId,
    e.operationId,
  ]
    .map(field)
    .join('');
}

export function auditHash(prevHash: Uint8Array, e: AuditEntry): Buffer {
  return createHash('sha256').update(prevHash).update(auditContent(e), 'utf8').digest();
}

export type AuditVerification =
  { ok: true; rows: number; firstSeq: string | null; lastSeq: string | null } | { ok: false; rows: number; badSeq: string; reason: string };

/**
 * Chains what waits in the inbox, then walks the chain from the anchor (the last pruned row, or
 * the start) to the head as it was when the walk began (rows appended meanwhile are left for the
 * next walk): sequence
 * numbers without gaps, each row's previous hash the hash before it, each hash recomputed from
 * the row's columns, and the head naming the last row. Reports the first row that breaks it.
 */
export async function verifyAuditChain(db: SqlExecutor, batch = 1000): Promise<AuditVerification> {
  await chainAuditLog(db);
  const anchor = (await db.query<{ seq: string | number; hash: Uint8Array }>(`SELECT seq, hash FROM audit_log_anchor WHERE id = 1`))
    .rows[0];
  const head = (await db.query<{ seq: string | number; hash: Uint8Array }>(`SELECT seq, hash FROM audit_log_head WHERE id = 1`)).rows[0];
  if (!anchor || !head) return { ok: false, rows: 0, badSeq: '0', reason: 'the audit log has no anchor or head row' };
  let expectedSeq = BigInt(anchor.seq) + 1n;
  let hash: Buffer = Buffer.from(anchor.hash);
  let count = 0;
  let firstSeq: string | null = null;
  const fail = (badSeq: string, reason: string): AuditVerification => ({ ok: false, rows: count, badSeq, reason });
  for (;;) {
    const { rows } = await db.query<Row & { prev_hash: Uint8Array; hash: Uint8Array }>(
      `SELECT ${COLUMNS}, prev_hash, hash FROM audit_log WHERE seq >= $1::bigint AND seq <= $2::bigint ORDER BY seq LIMIT $3`,
      [expectedSeq.toString(), String(head.seq), batch],
    );
    for (const r of rows) {
      const seq = BigInt(r.seq);
      if (seq !== expectedSeq) return fail(expectedSeq.toString(), `row ${expectedSeq} is missing (the next row is ${seq})`);
      if (!Buffer.from(r.prev_hash).equals(hash))
        return fail(seq.toString(), `row ${seq} does not name the hash of the row before it (a row was removed or inserted)`);
      const computed = auditHash(hash, toEntry(r));
      if (!computed.equals(Buffer.from(r.hash))) return fail(seq.toString(), `row ${seq} was changed: its hash does not match its content`);
      hash = computed;
      firstSeq ??= seq.toString();
      count++;
      expectedSeq++;
    }
    if (rows.length < batch) break;
  }
  const last = expectedSeq - 1n;
  if (BigInt(head.seq) !== last)
    return fail((last + 1n).toString(), `rows ${last + 1n} to ${head.seq} are missing (the head names row ${head.seq})`);
  if (!Buffer.from(head.hash).equals(hash)) return fail(last.toString(), `the head's hash is not the hash of row ${last}`);
  return { ok: true, rows: count, firstSeq, lastSeq: count ? last.toString() : null };
}

/**
 * Deletes the rows recorded more than `retentionDays` ago (pruneAuditLogBefore). Safe to run
 * from several processes at once.
 */
export async function pruneAuditLog(db: SqlDatabase, retentionDays: number): Promise<number> {
  if (!Number.isInteger(retentionDays) || retentionDays < 1)
    throw new Error(`audit log retention must be a whole number of days, at least 1; got ${retentionDays}`);
  return pruneAuditLogBefore(db, new Date(Date.now() - retentionDays * 86_400_000));
}

/**
 * Deletes the rows recorded before `cutoff` - the oldest rows, up to the last one recorded
 * before it, so what stays is one unbroken chain - and records the last deleted row's sequence
 * number and hash as the anchor verification starts from. Returns how many it deleted. The
 * anchor row is locked, so prunes from several processes run one after the other.
 */
export async function pruneAuditLogBefore(db: SqlDatabase, cutoff: Date): Promise<number> {
  // Rows still in the inbox are chained first, so none older than the cutoff is left behind.
  await chainAuditLog(db);
  return db.transaction(async (tx) => {
    await tx.query(`SELECT seq FROM audit_log_anchor WHERE id = 1 FOR UPDATE`);
    const { rows } = await tx.query<{ seq: string | number | null }>(`SELECT max(seq) AS seq FROM audit_log WHERE event_time < $1`, [
      cutoff.toISOString(),
    ]);
    const upTo = rows[0]?.seq;
    if (upTo === null || upTo === undefined) return 0;
    const last = (await tx.query<{ hash: Uint8Array }>(`SELECT hash FROM audit_log WHERE seq = $1::bigint`, [String(upTo)])).rows[0]!;
    await tx.query(`SELECT set_config('hcs.audit_prune', 'on', true)`);
    const { rowCount } = await tx.query(`DELETE FROM audit_log WHERE seq <= $1::bigint`, [String(upTo)]);
    await tx.query(`SELECT set_config('hcs.audit_prune', 'off', true)`);
    await tx.query(`UPDATE audit_log_anchor SET seq = $1::bigint, hash = $2, pruned_at = now() WHERE id = 1`, [String(upTo), last.hash]);
    return rowCount;
  });
}
