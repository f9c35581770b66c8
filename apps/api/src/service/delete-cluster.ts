// Deleting a cluster, in whatever state it is (ARM sends deletes at any time): the delete is
// recorded in the same transaction that marks every running operation of the cluster Canceling;
// their workflows are asked to stop, and the delete's workflow waits until each has ended
// before it acts (workflows/delete-queue.ts). A delete already under way is answered again.
import { randomUUID } from 'node:crypto';
import { workflowIdFor } from '../../../../domain/resource-id.js';
import { isUniqueViolation, type SqlDatabase } from '../../../../store/database.js';
import { recordDelete } from '../../../../store/delete-queue.js';
import { getOperation, updateOperation, type OperationRecord } from '../../../../store/operations.js';
import type { RequestContext } from '../context.js';
import { unavailable } from '../errors.js';
import type { OperationStarter } from '../operation-starter.js';
import type { OperationTarget } from './start-operation.js';

export async function beginDelete(
  deps: { db: SqlDatabase; starter: OperationStarter },
  ctx: RequestContext,
  cluster: OperationTarget,
): Promise<{ operation: OperationRecord; started: boolean }> {
  const { db } = deps;
  const operationId = randomUUID();
  const workflowId = workflowIdFor(cluster.resourceKey, 'delete', operationId);
  const record = () =>
    db.transaction(async (tx) => {
      // The cluster's row lock orders this against every other write to the cluster.
      await tx.query(`UPDATE clusters SET provisioning_state = 'Deleting', updated_at = now() WHERE resource_id = $1`, [
        cluster.resourceKey,
      ]);
      return recordDelete(tx, {
        operationId,
        resourceKey: cluster.resourceKey,
        subscriptionId: cluster.subscriptionId,
        location: cluster.location,
        workflowId,
        correlationId: ctx.correlationId,
      });
    });
  // A schedule firing (which takes no row lock) may have taken the free lock at the same moment:
  // once more, and the delete waits for it like for anything else.
  const recorded = await record().catch((err: unknown) => {
    if (isUniqueViolation(err)) return record();
    throw err;
  });
  const operation = await getOperation(db, recorded.operationId);
  if (!operation) throw new Error(`delete operation ${recorded.operationId} was not recorded`);
  if (recorded.existing) return { operation, started: false };
  // Asked now so they stop at once; the delete's workflow asks too (this process may stop here).
  for (const o of recorded.cancel) await deps.starter.cancel(o.workflowId).catch(() => undefined);
  try {
    await deps.starter.start({
      workflowId,
      operationId,
      kind: 'delete',
      resourceKey: cluster.resourceKey,
      resourceId: cluster.id,
      subscriptionId: cluster.subscriptionId,
      resourceGroup: cluster.resourceGroup,
      correlationId: ctx.correlationId,
    });
  } catch (err) {
    // As for every operation (start-operation.ts): started counts as started; only a workflow
    // Temporal does not have fails the delete, and a DELETE again starts a new one.
    const found = await deps.starter.find(workflowId).catch(() => 'unknown' as const);
    if (found === 'running' || found === 'closed') return { operation, started: true };
    if (found === 'absent') {
      await updateOperation(db, operationId, {
        status: 'Failed',
        error: { code: 'OperationNotStarted', message: 'The delete could not be started. Retry the request.' },
      });
      throw unavailable(`The delete could not be started (${err instanceof Error ? err.name : 'error'}); retry the request.`);
    }
    throw unavailable(
      `The workflow engine did not confirm that delete ${operationId} started; it stays ${operation.status} until it is confirmed or cancelled.`,
    );
  }
  return { operation, started: true };
}
