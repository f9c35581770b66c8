// Deleting a cluster, in whatever state it is (ARM sends deletes at any time): the delete is
// recorded in the same transaction that marks every running operation of the cluster Canceling;
// their workflows are asked to stop, and the delete's workflow waits until each has ended
// before it acts (workflows/delete-queue.ts). A delete already under way is answered again.
import { randomUUID } from 'node:crypto';
import type { SqlDatabase } from '../../../../store/database.js';
import { recordDelete } from '../../../../store/delete-queue.js';
import { getOperation, type OperationRecord } from '../../../../store/operations.js';
import {
  operationWorkflow,
  startRecordedOperation,
  type OperationStarter,
  type OperationTarget,
} from '../../../../lib/operation-starter.js';
import { countOperationStarted } from '../../../../lib/metrics.js';
import type { RequestContext } from '../context.js';
import { startFailure } from './start-operation.js';

export async function beginDelete(
  deps: { db: SqlDatabase; starter: Pick<OperationStarter, 'start' | 'find' | 'cancel'> },
  ctx: RequestContext,
  cluster: OperationTarget,
): Promise<{ operation: OperationRecord; started: boolean }> {
  const { db } = deps;
  const workflow = operationWorkflow({ target: cluster, kind: 'delete', operationId: randomUUID(), correlationId: ctx.correlationId });
  // The cluster is marked Deleting in the same transaction (store/delete-queue.ts).
  const recorded = await db.transaction(async (tx) => {
    return recordDelete(tx, {
      operationId: workflow.operationId,
      resourceKey: cluster.resourceKey,
      subscriptionId: cluster.subscriptionId,
      location: cluster.location,
      workflowId: workflow.workflowId,
      correlationId: ctx.correlationId,
    });
  });
  const operation = await getOperation(db, recorded.operationId);
  if (!operation) throw new Error(`delete operation ${recorded.operationId} was not recorded`);
  if (recorded.existing) return { operation, started: false };
  countOperationStarted(operation.kind);
  // Asked now so they stop at once; the delete's workflow asks too (this process may stop here).
  for (const o of recorded.cancel) await deps.starter.cancel(o.workflowId).catch(() => undefined);
  // As for every operation: started counts as started; only a workflow Temporal does not have
  // fails the delete, and a DELETE again starts a new one.
  await startRecordedOperation(deps, { operation, workflow }, 'The delete could not be started. Retry the request.').catch(
    (err: unknown) => {
      throw startFailure(err, 'delete', { cancellable: false }) ?? err;
    },
  );
  return { operation, started: true };
}
