// Long-running operation records: the ARM async-operation documents. The API creates them;
// the operation's workflow moves them along through the store activities.
import { isUniqueViolation, type SqlExecutor } from './database.js';

export const TERMINAL_STATUSES = ['Succeeded', 'Failed', 'Canceled'] as const;
/** The statuses that hold the cluster's one-operation lock (the unique partial index). */
export const ACTIVE_STATUSES = ['Accepted', 'Running', 'Canceling'] as const;
/**
 * Scheduled: recorded and waiting (an upgrade waiting for its maintenance window) without
 * holding the lock, so certificate rotation and snapshots go on meanwhile; its workflow claims
 * the lock (claimOperation) when it is ready to change the cluster.
 */
export const WAITING_STATUSES = ['Scheduled'] as const;
export type OperationStatus = (typeof TERMINAL_STATUSES)[number] | (typeof ACTIVE_STATUSES)[number] | (typeof WAITING_STATUSES)[number];

/**
 * How an operation of a kind meets the one-operation rule:
 * - `exclusive` (create, update, scale, delete, restore, root token): refused while any other
 *   operation is active or scheduled; starts Accepted.
 * - `waiting` (upgrade): refused likewise, but starts Scheduled and holds nothing until claimed.
 * - `safety` (certificate rotation, snapshots and snapshot deletes): refused only while another operation holds the
 *   lock, so a week-long wait for a maintenance window never stops them.
 */
export type OperationLane = 'exclusive' | 'waiting' | 'safety';

export function operationLane(kind: string): OperationLane {
  if (kind === 'upgrade') return 'waiting';
  if (kind === 'rotate' || kind === 'snapshot' || kind === 'snapshotdelete') return 'safety';
  return 'exclusive';
}

export interface OperationError {
  code: string;
  message: string;
  target?: string;
}

export interface OperationRecord {
  operationId: string;
  resourceKey: string;
  subscriptionId: string;
  location: string;
  kind: string;
  workflowId: string;
  status: OperationStatus;
  percentComplete: number;
  step: string | null;
  error: OperationError | null;
  correlationId: string | null;
  startedAt: string;
  endedAt: string | null;
}

interface Row {
  operation_id: string;
  resource_id: string;
  subscription_id: string;
  location: string;
  kind: string;
  workflow_id: string;
  status: OperationStatus;
  percent_complete: number;
  step: string | null;
  error: OperationError | null;
  correlation_id: string | null;
  started_at: Date | string;
  ended_at: Date | string | null;
}

const columns = `operation_id, resource_id, subscription_id, location, kind, workflow_id, status, percent_complete, step, error, correlation_id, started_at, ended_at`;

function toRecord(r: Row): OperationRecord {
  return {
    operationId: r.operation_id,
    resourceKey: r.resource_id,
    subscriptionId: r.subscription_id,
    location: r.location,
    kind: r.kind,
    workflowId: r.workflow_id,
    status: r.status,
    percentComplete: r.percent_complete,
    step: r.step,
    error: r.error,
    correlationId: r.correlation_id,
    startedAt: new Date(r.started_at).toISOString(),
    endedAt: r.ended_at === null ? null : new Date(r.ended_at).toISOString(),
  };
}

export interface NewOperation {
  operationId: string;
  resourceKey: string;
  subscriptionId: string;
  location: string;
  kind: string;
  workflowId: string;
  correlationId: string | null;
}

/** Thrown when the cluster already has an operation in flight (the unique partial index). */
export class OperationInProgressError extends Error {
  override name = 'OperationInProgressError';
  constructor(readonly running: OperationRecord) {
    super(`operation ${running.operationId} (${running.kind}) is ${running.status.toLowerCase()} on this cluster`);
  }
}

/** Records a new operation under its kind's lane (operationLane); throws OperationInProgressError when refused. */
export async function insertOperation(db: SqlExecutor, op: NewOperation): Promise<OperationRecord> {
  const lane = operationLane(op.kind);
  const running = lane === 'safety' ? await activeOperation(db, op.resourceKey) : await pendingOperation(db, op.resourceKey);
  if (running) throw new OperationInProgressError(running);
  const { rows } = await db.query<Row>(
    `INSERT INTO operations (operation_id, resource_id, subscription_id, location, kind, workflow_id, status, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${columns}`,
    [
      op.operationId,
      op.resourceKey,
      op.subscriptionId,
      op.location,
      op.kind,
      op.workflowId,
      lane === 'waiting' ? 'Scheduled' : 'Accepted',
      op.correlationId,
    ],
  );
  return toRecord(rows[0]!);
}

/** The operation holding the cluster's lock, else a scheduled one: what a new customer request waits for. */
export async function pendingOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  return (await activeOperation(db, resourceKey)) ?? (await scheduledOperation(db, resourceKey));
}

export async function scheduledOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM operations WHERE resource_id = $1 AND status = 'Scheduled' ORDER BY started_at LIMIT 1`,
    [resourceKey],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export type ClaimOutcome =
  { claimed: true } | { claimed: false; ended: true; status: OperationStatus } | { claimed: false; ended: false; holder: OperationRecord };

/**
 * A Scheduled operation takes the lock (becomes Running) when no other operation holds it.
 * Idempotent: an operation that already holds it is claimed; one that ended says so.
 */
export async function claimOperation(db: SqlExecutor, operationId: string): Promise<ClaimOutcome> {
  const op = await getOperation(db, operationId);
  if (!op) throw new Error(`operation ${operationId} does not exist`);
  if ((TERMINAL_STATUSES as readonly string[]).includes(op.status)) return { claimed: false, ended: true, status: op.status };
  if (op.status !== 'Scheduled') return { claimed: true };
  const holder = await activeOperation(db, op.resourceKey);
  if (holder) return { claimed: false, ended: false, holder };
  try {
    const { rowCount } = await db.query(`UPDATE operations SET status = 'Running' WHERE operation_id = $1 AND status = 'Scheduled'`, [
      operationId,
    ]);
    if (rowCount === 0) return claimOperation(db, operationId); // cancelled or claimed meanwhile: read again
  } catch (err) {
    // Another operation took the lock between the check and the update (the unique index).
    if (isUniqueViolation(err)) {
      const raced = await activeOperation(db, op.resourceKey);
      if (raced) return { claimed: false, ended: false, holder: raced };
    }
    throw err;
  }
  return { claimed: true };
}

/**
 * Ends a Scheduled operation Canceled at once (it holds nothing, so nothing waits on it; its
 * workflow is cancelled after). Returns undefined when it is no longer Scheduled (claimed meanwhile).
 */
export async function cancelScheduled(db: SqlExecutor, operationId: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE operations SET status = 'Canceled', ended_at = now(),
       error = '{"code":"OperationCanceled","message":"The operation was canceled on request while it was scheduled; nothing was changed."}'::jsonb
     WHERE operation_id = $1 AND status = 'Scheduled' RETURNING ${columns}`,
    [operationId],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

/** Progress of a running operation: Accepted becomes Running; Scheduled and Canceling stay as they are. */
export async function recordOperationProgress(db: SqlExecutor, operationId: string, step: string, percentComplete: number): Promise<void> {
  await db.query(
    `UPDATE operations SET status = CASE WHEN status = 'Accepted' THEN 'Running' ELSE status END, step = $2, percent_complete = $3
     WHERE operation_id = $1 AND status NOT IN ('Succeeded', 'Failed', 'Canceled')`,
    [operationId, step, percentComplete],
  );
}

export async function getOperation(db: SqlExecutor, operationId: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM operations WHERE operation_id = $1`, [operationId]);
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function activeOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM operations WHERE resource_id = $1 AND status IN ('Accepted', 'Running', 'Canceling')`,
    [resourceKey],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function listOperations(db: SqlExecutor, resourceKey: string, limit = 100): Promise<OperationRecord[]> {
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM operations WHERE resource_id = $1 ORDER BY started_at DESC LIMIT $2`, [
    resourceKey,
    limit,
  ]);
  return rows.map(toRecord);
}

export interface OperationUpdate {
  status?: OperationStatus;
  percentComplete?: number;
  step?: string;
  error?: OperationError | null;
}

/**
 * Moves an operation along. A terminal operation never changes again, so a retried activity
 * or a late update cannot reopen it.
 */
export async function updateOperation(db: SqlExecutor, operationId: string, u: OperationUpdate): Promise<OperationRecord | undefined> {
  const terminal = u.status !== undefined && (TERMINAL_STATUSES as readonly string[]).includes(u.status);
  const { rows } = await db.query<Row>(
    `UPDATE operations SET
       status = COALESCE($2, status),
       percent_complete = COALESCE($3, percent_complete),
       step = COALESCE($4, step),
       error = CASE WHEN $5::boolean THEN $6::jsonb ELSE error END,
       ended_at = CASE WHEN $7::boolean THEN now() ELSE ended_at END
     WHERE operation_id = $1 AND status NOT IN ('Succeeded', 'Failed', 'Canceled')
     RETURNING ${columns}`,
    [operationId, u.status ?? null, u.percentComplete ?? null, u.step ?? null, u.error !== undefined, u.error ?? null, terminal],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}
