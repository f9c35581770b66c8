// Beginning an operation on a cluster: its record and the caller's writes in one transaction
// (the one-operation rule, with the unique-index race answered like the check), then its
// workflow, with the ambiguity of a failed start resolved by asking Temporal.
import { randomUUID } from 'node:crypto';
import { workflowIdFor, type OperationKind } from '../../../../domain/resource-id.js';
import { isUniqueViolation, type SqlDatabase, type SqlExecutor } from '../../../../store/database.js';
import {
  insertOperation,
  OperationInProgressError,
  pendingOperation,
  updateOperation,
  type OperationRecord,
} from '../../../../store/operations.js';
import { OperationNotAvailableError, WORKFLOW_TYPE_FOR_KIND, type OperationParams } from '../../../../contract/temporal.js';
import type { RequestContext } from '../context.js';
import { badRequest, conflict, unavailable } from '../errors.js';
import type { OperationStarter } from '../operation-starter.js';

/** What starting an operation needs to know about its cluster. */
export interface OperationTarget {
  resourceKey: string;
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
}

/** 409 naming the operation that holds the cluster. */
export function inProgress(op: OperationRecord) {
  return conflict(
    'OperationInProgress',
    `Another operation is in progress on this cluster: ${op.kind} operation ${op.operationId} (${op.status}). Wait for it to finish or cancel it, then retry.`,
  );
}

/**
 * Records the operation (with `write` in the same transaction) and starts its workflow. A start
 * that fails ambiguously (a deadline) is looked up in Temporal: started counts as started; only a
 * workflow Temporal does not have fails the operation and frees the cluster; when Temporal cannot
 * be asked, the operation keeps the lock (two workflows must never act on one cluster) and can be
 * cancelled.
 */
export async function startOperation(
  deps: { db: SqlDatabase; starter: OperationStarter },
  o: {
    ctx: RequestContext;
    cluster: OperationTarget;
    kind: OperationKind;
    write: (tx: SqlExecutor, operationId: string) => Promise<void>;
    params?: OperationParams;
  },
): Promise<OperationRecord> {
  const { db } = deps;
  const { ctx, cluster, kind, write, params } = o;
  // A kind no production workflow runs (maintenance) is refused before anything is recorded.
  if (!WORKFLOW_TYPE_FOR_KIND[kind]) throw badRequest('OperationNotAvailable', new OperationNotAvailableError(kind).message);
  const operationId = randomUUID();
  const workflowId = workflowIdFor(cluster.resourceKey, kind, operationId);
  const op = await db
    .transaction(async (tx) => {
      await write(tx, operationId);
      return insertOperation(tx, {
        operationId,
        resourceKey: cluster.resourceKey,
        subscriptionId: cluster.subscriptionId,
        location: cluster.location,
        kind,
        workflowId,
        correlationId: ctx.correlationId,
      });
    })
    .catch(async (err: unknown) => {
      if (err instanceof OperationInProgressError) throw inProgress(err.running);
      // A concurrent request won the race to the one-operation index (or to the new cluster's
      // row) between our check and our insert: name its operation, as the check would have.
      if (isUniqueViolation(err)) {
        const running = await pendingOperation(db, cluster.resourceKey);
        if (running) throw inProgress(running);
        throw conflict('ConcurrentRequest', 'Another request changed this cluster at the same moment; read it and retry.');
      }
      throw err;
    });
  try {
    await deps.starter.start({
      workflowId,
      operationId,
      kind,
      resourceKey: cluster.resourceKey,
      resourceId: cluster.id,
      subscriptionId: cluster.subscriptionId,
      resourceGroup: cluster.resourceGroup,
      correlationId: ctx.correlationId,
      ...(params ? { params } : {}),
    });
  } catch (err) {
    const found = await deps.starter.find(workflowId).catch(() => 'unknown' as const);
    if (found === 'running' || found === 'closed') return op;
    if (found === 'absent') {
      await updateOperation(db, operationId, {
        status: 'Failed',
        error: { code: 'OperationNotStarted', message: 'The operation could not be started; nothing was changed. Retry the request.' },
      });
      throw unavailable(`The operation could not be started (${err instanceof Error ? err.name : 'error'}); retry the request.`);
    }
    throw unavailable(
      `The workflow engine did not confirm that operation ${operationId} started; it stays ${op.status} until it is confirmed or cancelled (cancel it on its operation status URL to retry now).`,
    );
  }
  return op;
}
