// The operations' start requests (the transactional outbox, migration 0009): a row is written in
// the transaction that records its operation and deleted once Temporal has the workflow. A relay
// (lib/operation-relay.ts) claims due rows of its task queue for a lease, so two relays never
// start the same row at once and a relay that dies mid-start leaves the row to the next one.
import type { SqlDatabase, SqlExecutor } from './database.js';
import type { OperationStatus } from './operations.js';

export interface NewStartRequest {
  operationId: string;
  taskQueue: string;
  workflowId: string;
  /** What the workflow is started with (no secret: see the migration). */
  start: Record<string, unknown>;
  /** The W3C trace context of the request that recorded the operation (traceparent, tracestate). */
  traceContext?: Record<string, string>;
}

/** A start request a relay holds for its lease, with its operation's status now. */
export interface ClaimedStart {
  operationId: string;
  workflowId: string;
  start: Record<string, unknown>;
  traceContext: Record<string, string> | null;
  /** This attempt's number (1 for the first). */
  attempts: number;
  status: OperationStatus;
  createdAt: string;
}

/** Writes the start request in the caller's transaction (the one that records the operation). */
export async function insertStartRequest(tx: SqlExecutor, r: NewStartRequest): Promise<void> {
  await tx.query(`INSERT INTO operation_starts (operation_id, task_queue, workflow_id, start, trace_context) VALUES ($1, $2, $3, $4, $5)`, [
    r.operationId,
    r.taskQueue,
    r.workflowId,
    JSON.stringify(r.start),
    r.traceContext && Object.keys(r.traceContext).length ? JSON.stringify(r.traceContext) : null,
  ]);
}

/**
 * Claims up to `limit` due start requests of the task queue for `leaseMs` (one statement: rows
 * another relay is claiming are skipped, and a row claimed meanwhile is no longer due).
 */
export async function claimStartRequests(
  db: SqlExecutor,
  o: { taskQueue: string; limit: number; leaseMs: number },
): Promise<ClaimedStart[]> {
  const { rows } = await db.query<{
    operation_id: string;
    workflow_id: string;
    start: Record<string, unknown>;
    trace_context: Record<string, string> | null;
    attempts: number;
    status: OperationStatus;
    created_at: Date | string;
  }>(
    `WITH due AS (
       SELECT operation_id FROM operation_starts
        WHERE task_queue = $1 AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $2
        FOR UPDATE SKIP LOCKED)
     UPDATE operation_starts s
        SET attempts = s.attempts + 1,
            claimed_until = now() + $3::integer * interval '1 millisecond',
            next_attempt_at = now() + $3::integer * interval '1 millisecond'
       FROM due, operations o
      WHERE s.operation_id = due.operation_id AND o.operation_id = s.operation_id
     RETURNING s.operation_id, s.workflow_id, s.start, s.trace_context, s.attempts, o.status, s.created_at`,
    [o.taskQueue, o.limit, Math.round(o.leaseMs)],
  );
  return rows.map((r) => ({
    operationId: r.operation_id,
    workflowId: r.workflow_id,
    start: r.start,
    traceContext: r.trace_context,
    attempts: r.attempts,
    status: r.status,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

/** The workflow is started (or will never be): the request goes. */
export async function deleteStartRequest(db: SqlExecutor, operationId: string): Promise<void> {
  await db.query(`DELETE FROM operation_starts WHERE operation_id = $1`, [operationId]);
}

/** The start failed for now: the lease ends and the request is due again after `delayMs`. */
export async function deferStartRequest(db: SqlExecutor, operationId: string, delayMs: number, error: string): Promise<void> {
  await db.query(
    `UPDATE operation_starts SET claimed_until = NULL, next_attempt_at = now() + $2::integer * interval '1 millisecond', last_error = $3
      WHERE operation_id = $1`,
    [operationId, Math.round(delayMs), error.slice(0, 500)],
  );
}

/**
 * For a cancel, in the caller's transaction: `withdrawn` - the start request was deleted before
 * any relay could have started the workflow (nothing ran; the caller ends the operation in the
 * same transaction); `starting` - a relay holds it right now (the workflow may start: cancel it
 * there); `tried` - no relay holds it, but one tried before (Temporal may have the workflow: the
 * caller asks Temporal, and withdraws it `afterLookup` when Temporal does not have it); `none` -
 * there is no start request (the workflow was started, or never will be).
 */
export async function withdrawStartRequest(
  tx: SqlExecutor,
  operationId: string,
  o: { afterLookup?: boolean } = {},
): Promise<'withdrawn' | 'starting' | 'tried' | 'none'> {
  const { rows } = await tx.query<{ starting: boolean; attempts: number }>(
    `SELECT COALESCE(claimed_until > now(), false) AS starting, attempts FROM operation_starts WHERE operation_id = $1 FOR UPDATE`,
    [operationId],
  );
  if (!rows[0]) return 'none';
  if (rows[0].starting) return 'starting';
  if (rows[0].attempts > 0 && !o.afterLookup) return 'tried';
  await deleteStartRequest(tx, operationId);
  return 'withdrawn';
}

/** The start requests not yet done (of one task queue when given): for readiness, metrics and tests. */
export async function pendingStartRequests(
  db: SqlDatabase | SqlExecutor,
  taskQueue?: string,
): Promise<{ operationId: string; attempts: number; lastError: string | null }[]> {
  const { rows } = await db.query<{ operation_id: string; attempts: number; last_error: string | null }>(
    `SELECT operation_id, attempts, last_error FROM operation_starts WHERE ($1::text IS NULL OR task_queue = $1) ORDER BY created_at`,
    [taskQueue ?? null],
  );
  return rows.map((r) => ({ operationId: r.operation_id, attempts: r.attempts, lastError: r.last_error }));
}
