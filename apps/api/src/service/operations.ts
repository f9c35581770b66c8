// OperationService handlers and the ARM-only operation-result lookup.
import { formatClusterResourceId, resourceKey } from '../../../../domain/resource-id.js';
import { throwIfAny } from '../../../../domain/errors.js';
import { checkClusterName, checkResourceGroupName, checkSubscriptionId } from '../../../../domain/resource-id.js';
import { movesProvisioningState } from '../../../../domain/provisioning.js';
import { getCluster, setProvisioningState } from '../../../../store/clusters.js';
import type { SqlDatabase } from '../../../../store/database.js';
import { withdrawStartRequest } from '../../../../store/operation-starts.js';
import { cancelScheduled, getOperation, pageOperations, updateOperation, type OperationRecord } from '../../../../store/operations.js';
import type { RequestContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import type { OperationStarter } from '../../../../lib/operation-starter.js';
import { countOperationEnded } from '../../../../lib/metrics.js';
import { requireRole, requireSubscription } from './authorize.js';
import { operationView, type OperationView } from './views.js';
import { decodeNewestFirstToken, encodeNewestFirstToken, nextLink, pageSize, type PageRequest } from './paging.js';

interface OperationPath {
  subscriptionId: string;
  location: string;
  operationId: string;
}

export function operationHandlers(deps: { db: SqlDatabase; starter: OperationStarter }) {
  const { db } = deps;

  /** Operation ids are only visible in the subscription (and location) that started them. */
  async function find(req: OperationPath, ctx: RequestContext): Promise<OperationRecord> {
    const what = `The operation '${req.operationId}'`;
    requireSubscription(ctx, req.subscriptionId, what);
    const op = await getOperation(db, req.operationId);
    if (!op || op.subscriptionId.toLowerCase() !== req.subscriptionId.toLowerCase() || op.location !== req.location.toLowerCase()) {
      throw notFound(what);
    }
    return op;
  }

  async function view(op: OperationRecord): Promise<OperationView> {
    const cluster = await getCluster(db, op.resourceKey);
    return operationView(op, cluster?.id ?? op.resourceKey);
  }

  return {
    async getOperation(req: OperationPath, ctx: RequestContext): Promise<{ operation: OperationView }> {
      requireRole(ctx, 'reader');
      return { operation: await view(await find(req, ctx)) };
    },

    /** For the Location URL: the operation record, so the REST layer can answer 202 or the result. */
    async getOperationRecord(req: OperationPath, ctx: RequestContext): Promise<OperationRecord> {
      requireRole(ctx, 'reader');
      return find(req, ctx);
    },

    async listOperations(
      req: { subscriptionId: string; resourceGroup: string; clusterName: string } & PageRequest,
      ctx: RequestContext,
    ): Promise<{ value: OperationView[]; nextLink?: string }> {
      requireRole(ctx, 'reader');
      requireSubscription(ctx, req.subscriptionId, `The cluster '${req.clusterName}'`);
      throwIfAny([
        ...checkSubscriptionId(req.subscriptionId),
        ...checkResourceGroupName(req.resourceGroup),
        ...checkClusterName(req.clusterName.toLowerCase()),
      ]);
      const limit = pageSize(req);
      const after = decodeNewestFirstToken(req, 'operations');
      const id = formatClusterResourceId({
        subscriptionId: req.subscriptionId,
        resourceGroup: req.resourceGroup,
        clusterName: req.clusterName,
      });
      const page = await pageOperations(db, resourceKey(id), limit, after);
      const value = page.items.map((op) => operationView(op, id));
      if (!page.next) return { value };
      const token = encodeNewestFirstToken('operations', page.next);
      return { value, nextLink: nextLink(ctx, `${id}/operations`, token, req) };
    },

    async cancelOperation(req: OperationPath, ctx: RequestContext): Promise<{ operation: OperationView }> {
      requireRole(ctx, 'operator');
      const op = await find(req, ctx);
      if (op.status === 'Succeeded' || op.status === 'Failed' || op.status === 'Canceled') {
        throw conflict(
          'OperationAlreadyEnded',
          `Operation ${op.operationId} already ended with status ${op.status}; there is nothing to cancel.`,
        );
      }
      // An operation whose workflow has not been started yet (its start request still waits for
      // the relay, lib/operation-relay.ts) is ended here, its request withdrawn in the same
      // transaction: nothing ran, nothing will. A request a relay tried before is withdrawn only
      // once Temporal says it has no such workflow.
      const withdraw = (afterLookup: boolean) =>
        db.transaction(async (tx) => {
          const outcome = await withdrawStartRequest(tx, op.operationId, { afterLookup });
          if (outcome !== 'withdrawn') return { outcome };
          const ended = await updateOperation(tx, op.operationId, {
            status: 'Canceled',
            error: { code: 'OperationCanceled', message: 'The operation was canceled on request before it started.' },
          });
          if (ended && movesProvisioningState(ended.kind)) await setProvisioningState(tx, ended.resourceKey, 'Canceled');
          return { outcome, ended };
        });
      let withdrawn = await withdraw(false);
      if (withdrawn.outcome === 'tried') {
        const found = await deps.starter.find(op.workflowId).catch(() => 'unknown' as const);
        // Temporal has it or cannot say: the relay settles it (it cancels a workflow it started for a Canceling operation).
        withdrawn = found === 'absent' ? await withdraw(true) : { outcome: 'starting' };
      }
      if (withdrawn.outcome === 'withdrawn') {
        countOperationEnded(withdrawn.ended);
        return { operation: await view(withdrawn.ended ?? op) };
      }
      // A relay is starting it (or Temporal cannot say whether it has it): it is marked Canceling
      // and asked to stop; the relay asks again once Temporal has it, or ends it Canceled when
      // Temporal does not. Without a start request, a workflow Temporal never got (its start was
      // refused) has nothing to stop.
      const starting = withdrawn.outcome === 'starting';
      if (!starting && (await deps.starter.find(op.workflowId)) === 'absent') {
        const canceled = await updateOperation(db, op.operationId, {
          status: 'Canceled',
          error: { code: 'OperationCanceled', message: 'The operation was canceled on request before it started.' },
        });
        countOperationEnded(canceled);
        return { operation: await view(canceled ?? op) };
      }
      // A Scheduled operation holds nothing: it ends at once (Canceling would take the lock); a
      // waiting delete marks the cluster Canceled, as a cancelled delete does.
      const scheduled =
        op.status === 'Scheduled'
          ? await db.transaction(async (tx) => {
              const ended = await cancelScheduled(tx, op.operationId);
              if (ended && movesProvisioningState(ended.kind)) await setProvisioningState(tx, ended.resourceKey, 'Canceled');
              return ended;
            })
          : undefined;
      countOperationEnded(scheduled);
      const updated = scheduled ?? (await updateOperation(db, op.operationId, { status: 'Canceling' })) ?? op;
      if (starting) await deps.starter.cancel(op.workflowId).catch(() => undefined);
      else await deps.starter.cancel(op.workflowId);
      return { operation: await view(updated) };
    },
  };
}

export type OperationHandlers = ReturnType<typeof operationHandlers>;
