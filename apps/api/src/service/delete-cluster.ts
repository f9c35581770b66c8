// Deleting a cluster, in whatever state it is (ARM sends deletes at any time): the delete is
// recorded in the same transaction that marks every running operation of the cluster Canceling,
// with its workflow's start request (the outbox: the relay starts it, lib/operation-relay.ts);
// the others' workflows are asked to stop, and the delete's workflow waits until each has ended
// before it acts (workflows/delete-queue.ts). A delete already under way is answered again.
import { randomUUID } from 'node:crypto';
import { recordDelete } from '../../../../store/delete-queue.js';
import { getOperation, type OperationRecord } from '../../../../store/operations.js';
import { setAuditCaller } from '../../../../store/audit-log.js';
import {
  operationWorkflow,
  starterTaskQueue,
  writeStartRequest,
  type OperationStarter,
  type OperationTarget,
} from '../../../../lib/operation-starter.js';
import { countOperationStarted } from '../../../../lib/metrics.js';
import type { RequestContext } from '../context.js';
import { accepted, type StartDeps } from './start-operation.js';

export async function beginDelete(
  deps: StartDeps & { starter: Pick<OperationStarter, 'cancel' | 'taskQueue'> },
  ctx: RequestContext,
  cluster: OperationTarget,
): Promise<{ operation: OperationRecord; started: boolean }> {
  const { db } = deps;
  const workflow = operationWorkflow({ target: cluster, kind: 'delete', operationId: randomUUID(), correlationId: ctx.correlationId });
  // The cluster is marked Deleting in the same transaction (store/delete-queue.ts).
  const recorded = await db.transaction(async (tx) => {
    // The audit rows of the operations this changes name the caller (store/audit-log.ts).
    await setAuditCaller(tx, ctx.caller.subject);
    const r = await recordDelete(tx, {
      operationId: workflow.operationId,
      resourceKey: cluster.resourceKey,
      subscriptionId: cluster.subscriptionId,
      location: cluster.location,
      workflowId: workflow.workflowId,
      correlationId: ctx.correlationId,
    });
    if (!r.existing) await writeStartRequest(tx, workflow, starterTaskQueue(deps.starter));
    return r;
  });
  const operation = await getOperation(db, recorded.operationId);
  if (!operation) throw new Error(`delete operation ${recorded.operationId} was not recorded`);
  if (recorded.existing) return { operation, started: false };
  countOperationStarted(operation.kind);
  accepted(deps);
  // Asked now so they stop at once; the delete's workflow asks too (this process may stop here).
  // One whose workflow has not started yet is ended Canceled by the relay instead.
  for (const o of recorded.cancel) await deps.starter.cancel(o.workflowId).catch(() => undefined);
  return { operation, started: true };
}
