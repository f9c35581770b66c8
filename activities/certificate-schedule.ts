// The cluster's certificate schedule: a Temporal schedule that checks the servers' certificates
// every twelfth of their lifetime, made with the cluster and removed with it, and what a firing
// does (records a `rotate` operation when a certificate is due and returns what to start).
import type { ScheduleClient } from '@temporalio/client';
import { workerFailure } from '../contract/errors.js';
import { CERTIFICATE_SCHEDULE_WORKFLOW, clusterSearchAttributes, type ClusterOperationInput } from '../contract/temporal.js';
import { certificateCheckInterval, certificateScheduleId, certificateSchedulePhase } from '../domain/certificate-schedule.js';
import { safetyWorkSkipReason } from '../domain/provisioning.js';
import { getCluster, getClusterServers } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { getOperation, OperationInProgressError } from '../store/operations.js';
import { operationTarget, operationWorkflow, recordOperation, type OperationRequest } from '../lib/operation-starter.js';
import { deleteSchedule, upsertIntervalSchedule } from './schedules.js';
import { dueCertificates, type BlobReader } from './server-certificates.js';

export interface CertificateScheduleDeps {
  db: SqlExecutor;
  blobs: BlobReader;
  /** Lifetime of server certificates; the checks' interval follows from it. */
  serverCertTtlHours: number;
  /** Temporal schedules (per-cluster snapshot and certificate schedules); set by the worker. */
  schedules?: { client: ScheduleClient; taskQueue: string };
}

export function createCertificateScheduleActivities(deps: CertificateScheduleDeps) {
  const { db, blobs } = deps;
  const schedulesOf = () => {
    if (!deps.schedules) throw workerFailure('SchedulesUnavailable', 'this worker has no Temporal schedule client');
    return deps.schedules;
  };
  return {
    /**
     * The cluster's certificate schedule: checks every twelfth of the certificate lifetime (at
     * least every 10 s), half an hour out of step with the whole-hour snapshot schedule made in the same
     * second, so a snapshot firing never takes the lock at the moment a check comes.
     */
    async ensureCertificateSchedule(a: { resourceKey: string }): Promise<{ outcome: string; intervalSeconds: number }> {
      const schedules = schedulesOf();
      const intervalSeconds = certificateCheckInterval(deps.serverCertTtlHours);
      const c = await getCluster(db, a.resourceKey);
      if (!c) throw workerFailure('ClusterNotFound', `cluster ${a.resourceKey} is not in the store`);
      const outcome = await upsertIntervalSchedule(schedules.client, {
        scheduleId: certificateScheduleId(a.resourceKey),
        intervalSeconds,
        phaseSeconds: certificateSchedulePhase(intervalSeconds),
        workflowType: CERTIFICATE_SCHEDULE_WORKFLOW,
        args: [{ resourceKey: a.resourceKey }],
        taskQueue: schedules.taskQueue,
        note: `certificate check of ${a.resourceKey} every ${intervalSeconds} s`,
        searchAttributes: clusterSearchAttributes(
          { resourceKey: a.resourceKey, subscriptionId: c.subscriptionId },
          c.resourceGroup,
          'rotate',
        ),
      });
      return { outcome, intervalSeconds };
    },

    async removeCertificateSchedule(a: { resourceKey: string }): Promise<{ removed: boolean }> {
      return { removed: await deleteSchedule(schedulesOf().client, certificateScheduleId(a.resourceKey)) };
    },

    /**
     * A certificate-schedule firing: when the cluster has servers (whatever its provisioning
     * state), some certificate is due and no other operation runs, records a `rotate` operation
     * (so it shows in the operations list and keeps the one-operation rule) and returns what to
     * start; otherwise records nothing.
     */
    async beginCertificateRotation(a: {
      resourceKey: string;
      operationId: string;
      scheduledBy: string;
    }): Promise<
      | { started: true; workflowId: string; resourceGroup: string; input: ClusterOperationInput }
      | { started: false; reason: string; retry?: { everySeconds: number; forSeconds: number } }
    > {
      const c = await getCluster(db, a.resourceKey);
      if (!c) return { started: false, reason: 'the cluster is not in the store (deleted?)' };
      // Recorded through the one starter (lib/operation-starter.ts); the firing's workflow starts it as its child.
      const rotation: OperationRequest = {
        target: operationTarget(c),
        kind: 'rotate',
        operationId: a.operationId,
        correlationId: a.scheduledBy,
        params: { scheduled: true },
      };
      const { workflowId, resourceGroup, ...input } = operationWorkflow({ ...rotation, operationId: a.operationId });
      const begun = { started: true as const, workflowId, resourceGroup, input };
      if (await getOperation(db, a.operationId)) return begun; // an earlier attempt recorded it
      // Whatever the cluster's provisioningState (a failed scale leaves it Failed): servers
      // whose certificates expire are rotated.
      const servers = await getClusterServers(db, a.resourceKey);
      const skip = safetyWorkSkipReason({ provisioningState: c.provisioningState, serverCount: servers.length });
      if (skip !== undefined) return { started: false, reason: skip };
      if ((await dueCertificates(blobs, a.resourceKey, servers)) === 0) return { started: false, reason: 'no certificate is due' };
      try {
        await recordOperation(db, rotation);
      } catch (err) {
        // A certificate is due and another operation holds the lock: the firing asks again until
        // the next firing would come, so rotation waits for that operation, not a whole interval.
        if (err instanceof OperationInProgressError) {
          const interval = certificateCheckInterval(deps.serverCertTtlHours);
          return {
            started: false,
            reason: err.message,
            retry: { everySeconds: Math.max(5, Math.min(30, Math.floor(interval / 4))), forSeconds: interval },
          };
        }
        throw err;
      }
      return begun;
    },
  };
}
