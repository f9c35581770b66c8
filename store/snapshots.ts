// Snapshot metadata. The bytes live in Blob storage; the snapshot workflows write these rows.
import type { SnapshotKind } from '../domain/snapshot-retention.js';
import type { SqlExecutor } from './database.js';
import { newestFirstPage, type NewestFirstPosition } from './newest-first.js';

export interface SnapshotRecord {
  snapshotId: string;
  resourceKey: string;
  name: string;
  /** MANUAL (an operator's), AUTOMATIC (the schedule's) or UPGRADE (taken before an upgrade; expires after 7 days). */
  kind: SnapshotKind;
  state: 'PENDING' | 'COMPLETED' | 'FAILED';
  sizeBytes: number | null;
  consulVersion: string | null;
  requestedAt: string;
  finishedAt: string | null;
  /** When the snapshot was last restored into the cluster. */
  restoredAt: string | null;
}

interface Row {
  snapshot_id: string;
  resource_id: string;
  name: string;
  kind: SnapshotRecord['kind'];
  state: SnapshotRecord['state'];
  size_bytes: string | number | null;
  consul_version: string | null;
  requested_at: Date | string;
  finished_at: Date | string | null;
  restored_at: Date | string | null;
}

const columns = 'snapshot_id, resource_id, name, kind, state, size_bytes, consul_version, requested_at, finished_at, restored_at';

function toRecord(r: Row): SnapshotRecord {
  return {
    snapshotId: r.snapshot_id,
    resourceKey: r.resource_id,
    name: r.name,
    kind: r.kind,
    state: r.state,
    sizeBytes: r.size_bytes === null ? null : Number(r.size_bytes),
    consulVersion: r.consul_version,
    requestedAt: new Date(r.requested_at).toISOString(),
    finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString(),
    restoredAt: r.restored_at === null || r.restored_at === undefined ? null : new Date(r.restored_at).toISOString(),
  };
}

export async function listSnapshots(db: SqlExecutor, resourceKey: string): Promise<SnapshotRecord[]> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM snapshots WHERE resource_id = $1 ORDER BY requested_at DESC`, [resourceKey]);
  return rows.map(toRecord);
}

/** One page of a cluster's snapshots, newest first (see newest-first.ts). */
export async function pageSnapshots(
  db: SqlExecutor,
  resourceKey: string,
  limit: number,
  after?: NewestFirstPosition,
): Promise<{ items: SnapshotRecord[]; next?: NewestFirstPosition }> {
  const page = await newestFirstPage<Row>(db, {
    table: 'snapshots',
    columns,
    timeColumn: 'requested_at',
    idColumn: 'snapshot_id',
    resourceKey,
    limit,
    ...(after ? { after } : {}),
  });
  return { items: page.rows.map(toRecord), ...(page.next ? { next: page.next } : {}) };
}

export async function getSnapshot(db: SqlExecutor, resourceKey: string, snapshotId: string): Promise<SnapshotRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM snapshots WHERE resource_id = $1 AND snapshot_id = $2`, [
    resourceKey,
    snapshotId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function renameSnapshot(
  db: SqlExecutor,
  resourceKey: string,
  snapshotId: string,
  name: string,
): Promise<SnapshotRecord | undefined> {
  const { rows } = await db.query<Row>(`UPDATE snapshots SET name = $3 WHERE resource_id = $1 AND snapshot_id = $2 RETURNING ${columns}`, [
    resourceKey,
    snapshotId,
    name,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** Records a snapshot (used by the snapshot workflow's store activity and by tests). */
export async function insertSnapshot(
  db: SqlExecutor,
  s: Omit<SnapshotRecord, 'requestedAt' | 'finishedAt' | 'restoredAt'> & { finished: boolean; operationId?: string },
): Promise<void> {
  await db.query(
    `INSERT INTO snapshots (snapshot_id, resource_id, name, kind, state, size_bytes, consul_version, finished_at, operation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, CASE WHEN $8::boolean THEN now() END, $9) ON CONFLICT (snapshot_id) DO NOTHING`,
    [s.snapshotId, s.resourceKey, s.name, s.kind, s.state, s.sizeBytes, s.consulVersion, s.finished, s.operationId ?? null],
  );
}

/** The snapshot an operation took (createSnapshot or a schedule firing), if any. */
export async function getSnapshotByOperation(
  db: SqlExecutor,
  resourceKey: string,
  operationId: string,
): Promise<SnapshotRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM snapshots WHERE resource_id = $1 AND operation_id = $2`, [
    resourceKey,
    operationId,
  ]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** Where a snapshot's bytes are and how to open them; read by the worker only. */
export interface SnapshotStorage {
  blobPath: string;
  /** The snapshot's data key wrapped by Vault transit (never the key itself). */
  wrappedKey: string;
  sha256: string | null;
}

/** The storage of a COMPLETED snapshot; undefined when there is none (absent, pending or failed). */
export async function getSnapshotStorage(db: SqlExecutor, resourceKey: string, snapshotId: string): Promise<SnapshotStorage | undefined> {
  const { rows } = await db.query<{ blob_path: string | null; wrapped_key: string | null; sha256: string | null }>(
    `SELECT blob_path, wrapped_key, sha256 FROM snapshots WHERE resource_id = $1 AND snapshot_id = $2 AND state = 'COMPLETED'`,
    [resourceKey, snapshotId],
  );
  const r = rows[0];
  return r?.blob_path && r.wrapped_key ? { blobPath: r.blob_path, wrappedKey: r.wrapped_key, sha256: r.sha256 } : undefined;
}

/** PENDING to COMPLETED with what the save produced; false when the snapshot is gone or no longer PENDING. */
export async function completeSnapshot(
  db: SqlExecutor,
  resourceKey: string,
  snapshotId: string,
  r: SnapshotStorage & { sizeBytes: number; consulVersion: string },
): Promise<boolean> {
  const res = await db.query(
    `UPDATE snapshots SET state = 'COMPLETED', size_bytes = $3, sha256 = $4, blob_path = $5, wrapped_key = $6, consul_version = $7,
       finished_at = now()
     WHERE resource_id = $1 AND snapshot_id = $2 AND state = 'PENDING'`,
    [resourceKey, snapshotId, r.sizeBytes, r.sha256, r.blobPath, r.wrappedKey, r.consulVersion],
  );
  return res.rowCount > 0;
}

/** PENDING to FAILED; false when the snapshot is gone or already ended. */
export async function failSnapshot(db: SqlExecutor, resourceKey: string, snapshotId: string): Promise<boolean> {
  const res = await db.query(
    `UPDATE snapshots SET state = 'FAILED', finished_at = now() WHERE resource_id = $1 AND snapshot_id = $2 AND state = 'PENDING'`,
    [resourceKey, snapshotId],
  );
  return res.rowCount > 0;
}

/** Removes the snapshot's record; false when there was none. */
export async function deleteSnapshotRecord(db: SqlExecutor, resourceKey: string, snapshotId: string): Promise<boolean> {
  const res = await db.query(`DELETE FROM snapshots WHERE resource_id = $1 AND snapshot_id = $2`, [resourceKey, snapshotId]);
  return res.rowCount > 0;
}

export async function markSnapshotRestored(db: SqlExecutor, resourceKey: string, snapshotId: string): Promise<void> {
  await db.query(`UPDATE snapshots SET restored_at = now() WHERE resource_id = $1 AND snapshot_id = $2`, [resourceKey, snapshotId]);
}
