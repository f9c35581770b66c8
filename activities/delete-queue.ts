// What a delete's workflow does before it changes anything: wait until every other operation of
// the cluster has ended (it asked Temporal to cancel their workflows), then take the cluster's
// one-operation lock (claimOperation, store/operations.ts). Idempotent store calls; the wait heartbeats.
import { Context } from '@temporalio/activity';
import type { SqlDatabase } from '../store/database.js';
import { abandonOperation, allEnded } from '../store/delete-queue.js';
import { countOperationEnded } from '../lib/metrics.js';
import { claimOperation, unfinishedOperations, type ClaimOutcome } from '../store/operations.js';
import type { WorkflowStarter } from '../lib/operation-starter.js';

export interface DeleteQueueDeps {
  db: SqlDatabase;
  /** How often the wait looks at the records (default 1 s). */
  pollMs?: number;
  /**
   * Temporal, to notice a workflow that closed without recording its end (terminated, timed
   * out): its operation is ended here instead of being waited for forever.
   */
  workflows?: Pick<WorkflowStarter, 'find'>;
}

/**
 * An operation younger than this whose workflow Temporal does not have may still be starting
 * (the API records it, then starts it): it is not given up on yet.
 */
export const START_GRACE_SECONDS = 120;

export function createDeleteQueueActivities({ db, pollMs = 1_000, workflows }: DeleteQueueDeps) {
  /** Ends the operations whose workflow Temporal no longer runs (closed, or absent past the start grace). */
  async function endAbandoned(resourceKey: string, operationIds: string[]): Promise<void> {
    if (!workflows) return;
    for (const op of await unfinishedOperations(db, resourceKey)) {
      if (!operationIds.includes(op.operationId)) continue;
      const state = await workflows.find(op.workflowId);
      if (state === 'closed' || (state === 'absent' && op.ageSeconds >= START_GRACE_SECONDS))
        countOperationEnded(await abandonOperation(db, op.operationId));
    }
  }

  return {
    /** Takes the cluster for the delete, or names the operations it still waits for. */
    async claimClusterForDelete(a: { operationId: string; resourceKey: string }): Promise<ClaimOutcome> {
      return claimOperation(db, a.operationId);
    },

    /**
     * Ends as Canceled an operation whose workflow Temporal does not run (never started, or it
     * ended without recording its end). False when it is young enough to be still starting.
     */
    async abandonOperation(a: { operationId: string; resourceKey: string }): Promise<boolean> {
      const op = (await unfinishedOperations(db, a.resourceKey)).find((o) => o.operationId === a.operationId);
      if (!op) return true;
      if (op.ageSeconds < START_GRACE_SECONDS) return false;
      countOperationEnded(await abandonOperation(db, a.operationId));
      return true;
    },

    /** Waits until every one of the operations has ended, or `maxSeconds` have passed; true when they have. */
    async waitForOperationsToEnd(a: { resourceKey: string; operationIds: string[]; maxSeconds: number }): Promise<boolean> {
      const ctx = Context.current();
      const end = Date.now() + a.maxSeconds * 1_000;
      for (let round = 0; ; round++) {
        if (await allEnded(db, a.operationIds)) return true;
        if (Date.now() >= end) return false;
        // Every few seconds: has a workflow closed without recording its end?
        if (round % 5 === 4) await endAbandoned(a.resourceKey, a.operationIds);
        ctx.heartbeat();
        await ctx.sleep(pollMs);
      }
    },
  };
}

export type DeleteQueueActivities = ReturnType<typeof createDeleteQueueActivities>;
