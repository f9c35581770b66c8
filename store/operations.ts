// Long-running operation records: the ARM async-operation documents. The API creates them;
// the operation's workflow moves them along through the store activities.
import { lockCluster } from './clusters.js';
import { isUniqueViolation, type SqlDatabase, type SqlExecutor } from './database.js';
import { newestFirstPage, type NewestFirstPosition } from './newest-first.js';

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
 * - `waiting` (upgrade, server restart and repair): refused likewise, but starts Scheduled and
 *   holds nothing until claimed (they wait for the maintenance window unless forced).
 * - `safety` (certificate rotation, snapshots and snapshot deletes): refused only while another operation holds the
 *   lock, so a week-long wait for a maintenance window never stops them.
 */
export type OperationLane = 'exclusive' | 'waiting' | 'safety';

export function operationLane(kind: string): OperationLane {
  if (kind === 'upgrade' || kind === 'restart' || kind === 'repair') return 'waiting';
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

/** An operation that has not ended, as a waiting operation sees it. */
export interface UnfinishedOperation {
  operationId: string;
  kind: string;
  workflowId: string;
  status: string;
  /** Seconds since it was recorded (by the database's clock). */
  ageSeconds: number;
}

const UNFINISHED = `status NOT IN ('Succeeded', 'Failed', 'Canceled')`;

/**
 * Every operation of the cluster that has not ended (whatever its status: holding the lock,
 * Canceling, Scheduled), oldest first, except `exceptOperationId`; only those holding the lock
 * with `lockHolders`.
 */
export async function unfinishedOperations(
  db: SqlExecutor,
  resourceKey: string,
  exceptOperationId = '',
  o: { lockHolders?: boolean } = {},
): Promise<UnfinishedOperation[]> {
  const which = o.lockHolders ? `status IN ('Accepted', 'Running', 'Canceling')` : UNFINISHED;
  const { rows } = await db.query<{ operation_id: string; kind: string; workflow_id: string; status: string; age: number | string }>(
    `SELECT operation_id, kind, workflow_id, status, EXTRACT(EPOCH FROM (now() - started_at)) AS age
       FROM operations WHERE resource_id = $1 AND ${which} AND operation_id <> $2 ORDER BY started_at`,
    [resourceKey, exceptOperationId],
  );
  return rows.map((r) => ({
    operationId: r.operation_id,
    kind: r.kind,
    workflowId: r.workflow_id,
    status: r.status,
    ageSeconds: Number(r.age),
  }));
}

/** The step a waiting operation shows: what it waits for. */
export function waitingStep(others: readonly Pick<UnfinishedOperation, 'kind' | 'operationId'>[]): string {
  return `waiting for ${others.map((o) => `${o.kind} operation ${o.operationId}`).join(', ')} to end`;
}

/**
 * THE way an operation is recorded: in the caller's transaction (with the caller's writes),
 * under its kind's lane (operationLane); throws OperationInProgressError naming the operation
 * that holds the cluster when refused - by the check, or by the unique partial indexes when a
 * concurrent insert raced past the check (the insert then records nothing and the transaction
 * stays usable).
 *
 * `queue` (the delete queue, store/delete-queue.ts): instead of being refused, the operation is
 * recorded Scheduled behind the unfinished operations it names (Accepted when there are none);
 * the caller has asked them to stop. It is refused only when it raced for the free lock.
 */
export async function beginOperation(
  tx: SqlExecutor,
  op: NewOperation,
  queue?: { behind: readonly UnfinishedOperation[] },
  attempt = 0,
): Promise<OperationRecord> {
  const lane = operationLane(op.kind);
  let status: OperationStatus;
  let step: string | null = null;
  if (queue) {
    status = queue.behind.length ? 'Scheduled' : 'Accepted';
    if (queue.behind.length) step = waitingStep(queue.behind);
  } else {
    const running = lane === 'safety' ? await activeOperation(tx, op.resourceKey) : await pendingOperation(tx, op.resourceKey);
    if (running) throw new OperationInProgressError(running);
    status = lane === 'waiting' ? 'Scheduled' : 'Accepted';
  }
  // ON CONFLICT: when a concurrent insert committed first (the one-operation indexes), this one
  // records nothing instead of aborting the caller's transaction, and is refused like the check.
  const { rows } = await tx.query<Row>(
    `INSERT INTO operations (operation_id, resource_id, subscription_id, location, kind, workflow_id, status, step, correlation_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING ${columns}`,
    [op.operationId, op.resourceKey, op.subscriptionId, op.location, op.kind, op.workflowId, status, step, op.correlationId],
  );
  if (rows[0]) return toRecord(rows[0]);
  const same = await getOperation(tx, op.operationId);
  if (same) throw new Error(`operation ${op.operationId} is already recorded (${same.status})`);
  const holder = status === 'Scheduled' ? await pendingOperation(tx, op.resourceKey) : await activeOperation(tx, op.resourceKey);
  if (holder) throw new OperationInProgressError(holder);
  // The operation that won the race has ended already: the rule is applied again.
  if (attempt >= 5) throw new Error(`operation ${op.operationId} could not be recorded: the cluster changed under every attempt`);
  return beginOperation(tx, op, queue, attempt + 1);
}

/** The operation holding the cluster's lock, else a scheduled one: what a new customer request waits for. */
export async function pendingOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  // One round trip (it is on every accept's path): the lock's holder (at most one, by the
  // one-operation index) sorts before the earliest Scheduled one.
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM operations WHERE resource_id = $1 AND status IN ('Accepted', 'Running', 'Canceling', 'Scheduled')
     ORDER BY status = 'Scheduled', started_at LIMIT 1`,
    [resourceKey],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export async function scheduledOperation(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM operations WHERE resource_id = $1 AND status = 'Scheduled' ORDER BY started_at LIMIT 1`,
    [resourceKey],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export type ClaimOutcome =
  | { claimed: true }
  | { claimed: false; ended: true; status: OperationStatus }
  | { claimed: false; ended: false; waitingFor: UnfinishedOperation[] };

/**
 * A Scheduled operation takes the cluster's one-operation lock (becomes Running): an upgrade
 * once no other operation holds the lock; a delete once every other operation of the cluster
 * has ended (the delete queue: it shows what it waits for as its step, and marks the cluster
 * Deleting again when it takes the lock - a cancelled create may have marked it). One
 * transaction that locks the cluster's row, as API writes do, so nothing is recorded between the
 * check and the claim; the unique index settles a race with an insert that takes no row lock.
 * Idempotent: an operation that already holds the lock is claimed; one that ended says so.
 */
export async function claimOperation(db: SqlDatabase, operationId: string, attempt = 0): Promise<ClaimOutcome> {
  try {
    const outcome = await db.transaction(async (tx): Promise<ClaimOutcome | undefined> => {
      const op = await getOperation(tx, operationId);
      if (!op) throw new Error(`operation ${operationId} does not exist`);
      if ((TERMINAL_STATUSES as readonly string[]).includes(op.status)) return { claimed: false, ended: true, status: op.status };
      const isDelete = op.kind === 'delete';
      await lockCluster(tx, op.resourceKey);
      const waitingFor = await unfinishedOperations(tx, op.resourceKey, operationId, { lockHolders: !isDelete });
      if (waitingFor.length) {
        if (isDelete)
          await tx.query(`UPDATE operations SET step = $2 WHERE operation_id = $1 AND status = 'Scheduled'`, [
            operationId,
            waitingStep(waitingFor),
          ]);
        return { claimed: false, ended: false, waitingFor };
      }
      if (op.status !== 'Scheduled') return { claimed: true };
      const { rowCount } = await tx.query(`UPDATE operations SET status = 'Running' WHERE operation_id = $1 AND status = 'Scheduled'`, [
        operationId,
      ]);
      if (rowCount === 0) return undefined; // cancelled or claimed meanwhile: read again
      if (isDelete)
        await tx.query(`UPDATE clusters SET provisioning_state = 'Deleting', updated_at = now() WHERE resource_id = $1`, [op.resourceKey]);
      return { claimed: true };
    });
    if (outcome) return outcome;
  } catch (err) {
    // Another operation took the lock between the check and the update (the unique index): read again.
    if (!isUniqueViolation(err)) throw err;
  }
  if (attempt >= 5) throw new Error(`operation ${operationId} could not take the cluster's lock: it changed under every attempt`);
  return claimOperation(db, operationId, attempt + 1);
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

/** One page of a cluster's operations, newest first (see newest-first.ts). */
export async function pageOperations(
  db: SqlExecutor,
  resourceKey: string,
  limit: number,
  after?: NewestFirstPosition,
): Promise<{ items: OperationRecord[]; next?: NewestFirstPosition }> {
  const page = await newestFirstPage<Row>(db, {
    table: 'operations',
    columns,
    timeColumn: 'started_at',
    idColumn: 'operation_id',
    resourceKey,
    limit,
    ...(after ? { after } : {}),
  });
  return { items: page.rows.map(toRecord), ...(page.next ? { next: page.next } : {}) };
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
