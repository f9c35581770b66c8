// A delete that arrives while other operations of the cluster have not ended: they are
// cancelled, and the delete waits (Scheduled, holding no lock) until every one of them has
// ended, then takes the one-operation lock (claimOperation in store/operations.ts). Two workflows
// never act on one cluster: the delete's workflow changes nothing before it holds the lock with
// nothing else unfinished.
import type { SqlExecutor } from './database.js';
import {
  beginOperation,
  getOperation,
  OperationInProgressError,
  unfinishedOperations,
  type NewOperation,
  type OperationRecord,
  type UnfinishedOperation,
} from './operations.js';

const UNFINISHED = `status NOT IN ('Succeeded', 'Failed', 'Canceled')`;

/** The cluster's delete that has not ended (waiting or running), if there is one. */
export async function unfinishedDelete(db: SqlExecutor, resourceKey: string): Promise<OperationRecord | undefined> {
  const { rows } = await db.query<{ operation_id: string }>(
    `SELECT operation_id FROM operations WHERE resource_id = $1 AND kind = 'delete' AND ${UNFINISHED}`,
    [resourceKey],
  );
  return rows[0] ? getOperation(db, rows[0].operation_id) : undefined;
}

/**
 * Records a delete in the caller's transaction: marks the cluster Deleting (its row lock orders
 * this against every other write to the cluster), then the delete that has not ended yet if
 * there is one (a redelivered DELETE), else a new one. When other
 * operations have not ended, those holding the lock go Canceling and the delete is recorded
 * Scheduled; else it is recorded Accepted. Returns the delete and the operations to cancel.
 */
export async function recordDelete(
  tx: SqlExecutor,
  op: Omit<NewOperation, 'kind'>,
): Promise<{ operationId: string; existing: boolean; cancel: UnfinishedOperation[] }> {
  await tx.query(`UPDATE clusters SET provisioning_state = 'Deleting', updated_at = now() WHERE resource_id = $1`, [op.resourceKey]);
  for (let attempt = 0; ; attempt++) {
    const others = await unfinishedOperations(tx, op.resourceKey);
    const pending = others.find((o) => o.kind === 'delete');
    if (pending) return { operationId: pending.operationId, existing: true, cancel: [] };
    for (const o of others) {
      if (o.status === 'Accepted' || o.status === 'Running')
        await tx.query(`UPDATE operations SET status = 'Canceling' WHERE operation_id = $1 AND status IN ('Accepted', 'Running')`, [
          o.operationId,
        ]);
    }
    try {
      await beginOperation(tx, { ...op, kind: 'delete' }, { behind: others });
      return { operationId: op.operationId, existing: false, cancel: others };
    } catch (err) {
      // A schedule firing (which takes no row lock) took the free lock at the same moment: once
      // more, and the delete waits for it like for anything else.
      if (!(err instanceof OperationInProgressError) || attempt >= 2) throw err;
    }
  }
}

/**
 * Ends an operation whose workflow is not running (it never started, or it ended without
 * recording its end) as Canceled. Returns what the metrics count (countOperationEnded), or
 * undefined when it had ended meanwhile.
 */
export async function abandonOperation(
  db: SqlExecutor,
  operationId: string,
): Promise<Pick<OperationRecord, 'kind' | 'status' | 'startedAt' | 'endedAt'> | undefined> {
  const { rows } = await db.query<{ kind: string; status: OperationRecord['status']; started_at: Date | string; ended_at: Date | string }>(
    `UPDATE operations SET status = 'Canceled', ended_at = now(),
       error = '{"code":"OperationCanceled","message":"The operation was canceled: the cluster is being deleted and its workflow was not running."}'::jsonb
     WHERE operation_id = $1 AND ${UNFINISHED}
     RETURNING kind, status, started_at, ended_at`,
    [operationId],
  );
  const r = rows[0];
  return (
    r && { kind: r.kind, status: r.status, startedAt: new Date(r.started_at).toISOString(), endedAt: new Date(r.ended_at).toISOString() }
  );
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
