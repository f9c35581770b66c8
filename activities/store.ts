// Store activities: the only way workflows change the records the API serves. Each is
// idempotent: re-running it after a crash leaves the same state.
import { movesProvisioningState } from '../domain/provisioning.js';
import { deleteCluster, getCluster, mergeClusterStatus, setProvisioningState } from '../store/clusters.js';
import type { SqlDatabase } from '../store/database.js';
import { recordServerCount } from '../store/usage.js';
import { countOperationEnded } from '../lib/metrics.js';
import {
  claimOperation,
  getOperation,
  recordOperationProgress,
  updateOperation,
  type OperationError,
  type OperationStatus,
  waitingStep,
} from '../store/operations.js';

export interface StoreActivityDeps {
  db: SqlDatabase;
}

export function createStoreActivities({ db }: StoreActivityDeps) {
  return {
    /** Shows progress on the operation (status endpoint and list). */
    async recordProgress(a: { operationId: string; step: string; percentComplete: number }): Promise<void> {
      await recordOperationProgress(db, a.operationId, a.step, a.percentComplete);
    },

    /**
     * A Scheduled operation (an upgrade that waited for its window) takes the one-operation lock.
     * Not claimed: another operation holds it (the workflow waits and asks again) or this one
     * ended meanwhile (cancelled).
     */
    async claimOperation(a: { operationId: string }): Promise<{ claimed: true } | { claimed: false; ended: boolean; reason: string }> {
      const outcome = await claimOperation(db, a.operationId);
      if (outcome.claimed) return { claimed: true };
      if (outcome.ended) return { claimed: false, ended: true, reason: `the operation already ended ${outcome.status}` };
      return { claimed: false, ended: false, reason: waitingStep(outcome.waitingFor) };
    },

    /**
     * Ends the operation Succeeded. A create, update or scale also marks the cluster Succeeded
     * and records what it now runs; an upgrade records the version it now runs and leaves
     * provisioningState alone, as every other day-2 operation does (domain/provisioning.ts).
     */
    async completeOperation(a: { operationId: string; resourceKey: string }): Promise<void> {
      const ended = await db.transaction(async (tx) => {
        const op = await getOperation(tx, a.operationId);
        if (!op || op.status === 'Succeeded') return undefined;
        const cluster = await getCluster(tx, a.resourceKey);
        if (cluster) {
          const running = { currentConsulVersion: cluster.spec.properties.consulVersion };
          if (movesProvisioningState(op.kind)) await setProvisioningState(tx, a.resourceKey, 'Succeeded', running);
          else if (op.kind === 'upgrade') await mergeClusterStatus(tx, a.resourceKey, running);
        }
        return updateOperation(tx, a.operationId, { status: 'Succeeded', percentComplete: 100, step: 'done' });
      });
      // Counted once committed; only the update that ended the operation returns it.
      countOperationEnded(ended);
    },

    /** Removes the cluster's records and ends the delete operation. */
    async completeDelete(a: { operationId: string; resourceKey: string }): Promise<void> {
      const ended = await db.transaction(async (tx) => {
        await recordServerCount(tx, a.resourceKey, '', 0, new Date());
        await deleteCluster(tx, a.resourceKey);
        return updateOperation(tx, a.operationId, { status: 'Succeeded', percentComplete: 100, step: 'done' });
      });
      countOperationEnded(ended);
    },

    /**
     * Ends the operation Failed or Canceled, with its error. Only a create, update, scale or
     * delete marks the cluster accordingly; a failed or cancelled day-2 operation (snapshot,
     * root token, upgrade, certificate rotation) leaves provisioningState as it was.
     */
    async failOperation(a: {
      operationId: string;
      resourceKey: string;
      status: Extract<OperationStatus, 'Failed' | 'Canceled'>;
      error: OperationError;
    }): Promise<void> {
      const ended = await db.transaction(async (tx) => {
        const ended = await updateOperation(tx, a.operationId, { status: a.status, error: a.error });
        // A create, update or scale cancelled for a delete leaves the cluster Deleting.
        const deleting = ended?.kind !== 'delete' && (await getCluster(tx, a.resourceKey))?.provisioningState === 'Deleting';
        if (ended && movesProvisioningState(ended.kind) && !deleting) await setProvisioningState(tx, a.resourceKey, a.status);
        return ended;
      });
      countOperationEnded(ended);
    },
  };
}

export type StoreActivities = ReturnType<typeof createStoreActivities>;
