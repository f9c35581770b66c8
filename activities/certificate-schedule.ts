// The cluster's certificate schedule: a Temporal schedule that checks the servers' certificates
// every twelfth of their lifetime, made with the cluster and removed with it, and what a firing
// does (records a `rotate` operation when a certificate is due and returns what to start).
import type { ScheduleClient } from '@temporalio/client';
import { workerFailure } from '../contract/errors.js';
import { CERTIFICATE_SCHEDULE_WORKFLOW, clusterSearchAttributes } from '../contract/temporal.js';
import { certificateCheckInterval, certificateScheduleId, certificateSchedulePhase } from '../domain/certificate-schedule.js';
import { getCluster } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { beginScheduledOperation, type ScheduledStart } from './scheduled-operation.js';
import { deleteSchedule, upsertIntervalSchedule } from './schedules.js';
import { dueCertificates, type BlobReader } from './server-certificates.js';

export interface CertificateScheduleDeps {
  db: SqlExecutor;
  blobs: BlobReader;
  /** Lifetime of server certificates; the checks' interval follows from it. */
  serverCertTtlHours: number;
  /** Temporal schedules (per-cluster snapshot and certificate schedules); set by the worker. */
  schedules?: {
    client: ScheduleClient;
    taskQueue: string;
    /** The fleet design: no per-cluster schedule (activities/fleet-safety.ts). */ fleetSlotSeconds?: number;
  };
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
      // The fleet design fires it from the fleet schedule; a per-cluster schedule from before goes.
      if (schedules.fleetSlotSeconds) {
        await deleteSchedule(schedules.client, certificateScheduleId(a.resourceKey));
        return { outcome: 'fleet', intervalSeconds };
      }
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
    }): Promise<ScheduledStart & { retry?: { everySeconds: number; forSeconds: number } }> {
      const begun = await beginScheduledOperation(db, {
        ...a,
        kind: 'rotate',
        params: { scheduled: true },
        check: async (_c, servers) => ((await dueCertificates(blobs, a.resourceKey, servers)) === 0 ? 'no certificate is due' : undefined),
      });
      // A certificate is due and another operation holds the lock: the firing asks again until
      // the next firing would come, so rotation waits for that operation, not a whole interval.
      if (!begun.started && begun.busy) {
        const interval = certificateCheckInterval(deps.serverCertTtlHours);
        return { ...begun, retry: { everySeconds: Math.max(5, Math.min(30, Math.floor(interval / 4))), forSeconds: interval } };
      }
      return begun;
    },
  };
}
