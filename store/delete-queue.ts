// A delete that arrives while other operations of the cluster have not ended: they are
// cancelled, and the delete waits (Scheduled, holding no lock) until every one of them has
// ended, then takes the one-operation lock. Two workflows never act on one cluster: the
// delete's workflow changes nothing before it holds the lock with nothing else unfinished.
import type { SqlExecutor } from './database.js';
import { getOperation, type NewOperation, type OperationRecord } from './operations.js';

/** An operation that has not ended, as the delete queue sees it. */
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
 * Canceling, Scheduled), oldest first, except `exceptOperationId`.
 */
export async function unfinishedOperations(db: SqlExecutor, resourceKey: string, exceptOperationId = ''): Promise<UnfinishedOperation[]> {
  const { rows } = await db.query<{ operation_id: string; kind: string; workflow_id: string; status: string; age: number | string }>(
    `SELECT operation_id, kind, workflow_id, status, EXTRACT(EPOCH FROM (now() - started_at)) AS age
       FROM operations WHERE resource_id = $1 AND ${UNFINISHED} AND operation_id <> $2 ORDER BY started_at`,
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

/** The cluster's delete that has not ended (waiting or running), if there is one. */
export async function unfinishedDelete(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<{ operation_id: string }>(
    `SELECT operation_id FROM operations WHERE resource_id = $1 AND kind = 'delete' AND ${UNFINISHED}`,
    [resourceKey],
  );
  return rows[0] ? getOperation(db, rows[0].operation_id) : undefined;
}

/**
 * Records a delete in the caller's transaction, which has locked the cluster's row: the delete
 * that has not ended yet if there is one (a redelivered DELETE), else a new one. When other
 * operations have not ended, those holding the lock go Canceling and the delete is recorded
 * Scheduled; else it is recorded Accepted. Returns the delete and the operations to cancel.
 */
export async function recordDelete(
  tx: SqlExecutor,
  op: Omit<NewOperation, 'kind'>,
): Promise<{ operationId: string; existing: boolean; cancel: UnfinishedOperation[] }> {
  const others = await unfinishedOperations(tx, op.resourceKey);
  const pending = others.find((o) => o.kind === 'delete');
  if (pending) return { operationId: pending.operationId, existing: true, cancel: [] };
  for (const o of others) {
    if (o.status === 'Accepted' || o.status === 'Running')
      await tx.query(`UPDATE operations SET status = 'Canceling' WHERE operation_id = $1 AND status IN ('Accepted', 'Running')`, [
        o.operationId,
      ]);
  }
  await tx.query(
    `INSERT INTO operations (operation_id, resource_id, subscription_id, location, kind, workflow_id, status, step, correlation_id)
     VALUES ($1, $2, $3, $4, 'delete', $5, $6, $7, $8)`,
    [
      op.operationId,
      op.resourceKey,
      op.subscriptionId,
      op.location,
      op.workflowId,
      others.length ? 'Scheduled' : 'Accepted',
      others.length ? waitingStep(others) : null,
      op.correlationId,
    ],
  );
  return { operationId: op.operationId, existing: false, cancel: others };
}

export type DeleteClaim =
  { claimed: true } | { claimed: false; ended: true; status: string } | { claimed: false; ended: false; waitingFor: UnfinishedOperation[] };

/**
 * The delete takes the cluster: when no other operation of it is unfinished, a Scheduled
 * delete becomes Running (the unique index makes that atomic against any other lock holder)
 * and the cluster is marked Deleting again (a cancelled create may have marked it). Run in a
 * transaction; idempotent (a delete that holds the lock is claimed).
 */
export async function claimDelete(tx: SqlExecutor, operationId: string): Promise<DeleteClaim> {
  const { rows } = await tx.query<{ resource_id: string; status: string }>(
    `SELECT resource_id, status FROM operations WHERE operation_id = $1`,
    [operationId],
  );
  const op = rows[0];
  if (!op) throw new Error(`operation ${operationId} does not exist`);
  if (['Succeeded', 'Failed', 'Canceled'].includes(op.status)) return { claimed: false, ended: true, status: op.status };
  // API writes lock the cluster's row too: nothing is recorded for it between the check and the claim.
  await tx.query(`SELECT resource_id FROM clusters WHERE resource_id = $1 FOR UPDATE`, [op.resource_id]);
  const others = await unfinishedOperations(tx, op.resource_id, operationId);
  if (others.length) {
    await tx.query(`UPDATE operations SET step = $2 WHERE operation_id = $1 AND status = 'Scheduled'`, [operationId, waitingStep(others)]);
    return { claimed: false, ended: false, waitingFor: others };
  }
  if (op.status === 'Scheduled') {
    await tx.query(`UPDATE operations SET status = 'Running' WHERE operation_id = $1 AND status = 'Scheduled'`, [operationId]);
    await tx.query(`UPDATE clusters SET provisioning_state = 'Deleting', updated_at = now() WHERE resource_id = $1`, [op.resource_id]);
  }
  return { claimed: true };
}

/**
 * Ends an operation whose workflow is not running (it never started, or it ended without
 * recording its end) as Canceled. Returns false when it ended meanwhile.
 */
export async function abandonOperation(db: SqlExecutor, operationId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE operations SET status = 'Canceled', ended_at = now(),
       error = '{"code":"OperationCanceled","message":"The operation was canceled: the cluster is being deleted and its workflow was not running."}'::jsonb
     WHERE operation_id = $1 AND ${UNFINISHED}`,
    [operationId],
  );
  return rowCount > 0;
}

/** Whether every one of the operations has ended. */
export async function allEnded(db: SqlExecutor, operationIds: string[]): Promise<boolean> {
  if (!operationIds.length) return true;
  const { rows } = await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM operations WHERE operation_id = ANY($1::text[]) AND ${UNFINISHED}`,
    [operationIds],
  );
  return Number(rows[0]?.n ?? 0) === 0;
}

function waitingStep(others: UnfinishedOperation[]): string {
  return `waiting for ${others.map((o) => `${o.kind} operation ${o.operationId}`).join(', ')} to end`;
}
