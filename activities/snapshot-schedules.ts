// Each cluster's snapshot schedule: a Temporal Schedule `snapshots/<resourceKey>` built from the
// cluster's snapshotPolicy, created or updated after provisioning and removed with the cluster.
// What a firing records is beginScheduledSnapshot (activities/snapshots.ts).
import type { ScheduleClient } from '@temporalio/client';
import { workerFailure } from '../contract/errors.js';
import { clusterSearchAttributes, SNAPSHOT_SCHEDULE_WORKFLOW } from '../contract/temporal.js';
import type { SnapshotPolicy } from '../domain/cluster-spec.js';
import { getCluster } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { deleteSchedule, upsertIntervalSchedule } from './schedules.js';

export interface SnapshotScheduleDeps {
  db: SqlExecutor;
  /** Temporal schedules; set by the worker. */
  schedules?: {
    client: ScheduleClient;
    taskQueue: string;
    /** The fleet design: no per-cluster schedule (activities/fleet-safety.ts). */ fleetSlotSeconds?: number;
  };
  /** Tests only: every snapshot schedule fires this often instead of its policy's interval. */
  snapshotIntervalOverrideSeconds?: number;
}

/** The cluster's snapshot schedule, named like its operation workflows (no leading slash). */
export const snapshotScheduleId = (resourceKey: string) => `snapshots/${resourceKey.replace(/^\/+/, '')}`;

/** The schedule's interval: the test override, or the policy's hours. */
export function snapshotIntervalSeconds(policy: SnapshotPolicy, overrideSeconds?: number): number {
  return overrideSeconds ?? policy.intervalHours * 3600;
}

export function createSnapshotScheduleActivities(deps: SnapshotScheduleDeps) {
  function scheduleClient(): NonNullable<SnapshotScheduleDeps['schedules']> {
    if (!deps.schedules) throw workerFailure('SchedulesUnavailable', 'the snapshot schedule cannot be changed');
    return deps.schedules;
  }

  return {
    /**
     * Creates or updates the schedule `snapshots/<resourceKey>` from the cluster's policy. The
     * first snapshot comes one interval after the schedule is made (its phase is that moment,
     * which also spreads clusters over the interval). Unchanged when it already fires at that
     * interval into this task queue. Overlapping firings are skipped.
     */
    async ensureSnapshotSchedule(a: {
      resourceKey: string;
    }): Promise<{ scheduleId: string; intervalSeconds: number; outcome: 'created' | 'updated' | 'unchanged' | 'fleet' }> {
      const schedules = scheduleClient();
      const c = await getCluster(deps.db, a.resourceKey);
      if (!c) throw workerFailure('ClusterNotFound', `cluster ${a.resourceKey} is not in the store`);
      const scheduleId = snapshotScheduleId(a.resourceKey);
      const intervalSeconds = snapshotIntervalSeconds(c.spec.properties.snapshotPolicy, deps.snapshotIntervalOverrideSeconds);
      // The fleet design fires it from the fleet schedule; a per-cluster schedule from before goes.
      if (schedules.fleetSlotSeconds) {
        await deleteSchedule(schedules.client, scheduleId);
        return { scheduleId, intervalSeconds, outcome: 'fleet' };
      }
      const outcome = await upsertIntervalSchedule(schedules.client, {
        scheduleId,
        intervalSeconds,
        workflowType: SNAPSHOT_SCHEDULE_WORKFLOW,
        args: [{ resourceKey: a.resourceKey }],
        taskQueue: schedules.taskQueue,
        note: `snapshots of ${a.resourceKey} every ${intervalSeconds} s`,
        searchAttributes: clusterSearchAttributes(
          { resourceKey: a.resourceKey, subscriptionId: c.subscriptionId },
          c.resourceGroup,
          'snapshot',
        ),
      });
      return { scheduleId, intervalSeconds, outcome };
    },

    /** Deletes the cluster's snapshot schedule; a schedule that is already gone is fine. */
    async removeSnapshotSchedule(a: { resourceKey: string }): Promise<{ removed: boolean }> {
      return { removed: await deleteSchedule(scheduleClient().client, snapshotScheduleId(a.resourceKey)) };
    },
  };
}
