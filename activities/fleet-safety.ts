// The fleet design of the safety schedules (a setting; the default is one Temporal schedule per
// cluster and task, activities/snapshot-schedules.ts and certificate-schedule.ts): one control-
// plane schedule per task queue fires every slot (a minute) and this activity starts the firings
// due in that slot, with bounded concurrency. A cluster is due when one of its hourly (or
// policy-interval) moments falls in the slot; its moments are the ones its own schedule would
// have had (one interval after it was recorded, the certificate check half an hour later). Each
// firing is the same workflow under the same id as a per-cluster schedule's firing
// (`snapshots/<key>/scheduled-<slot start>`), so everything downstream is unchanged and a
// retried activity starts nothing twice.
import { Context } from '@temporalio/activity';
import { upsertIntervalSchedule } from './schedules.js';
import { ScheduleOverlapPolicy, WorkflowExecutionAlreadyStartedError, type ScheduleClient, type WorkflowClient } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { workerFailure } from '../contract/errors.js';
import { CERTIFICATE_SCHEDULE_WORKFLOW, clusterSearchAttributes, SNAPSHOT_SCHEDULE_WORKFLOW } from '../contract/temporal.js';
import { certificateScheduleId, certificateSchedulePhase } from '../domain/certificate-schedule.js';
import type { SqlExecutor } from '../store/database.js';
import { snapshotScheduleId } from './snapshot-schedules.js';

export interface FleetSafetyDeps {
  db: SqlExecutor;
  workflows: WorkflowClient;
  taskQueue: string;
  /** Seconds between certificate checks (certificateCheckInterval of the certificate lifetime). */
  certificateIntervalSeconds: number;
  /** Firings started at once (default 16). */
  concurrency?: number;
  /** Tests only: every cluster's snapshots this often instead of its policy's interval. */
  snapshotIntervalOverrideSeconds?: number;
}

/** A firing the slot is due to start. */
export interface DueFiring {
  resourceKey: string;
  subscriptionId: string;
  resourceGroup: string;
  task: 'snapshot' | 'certificate';
}

/** Temporal's form of a firing's time in a scheduled workflow's id (whole seconds, UTC). */
export const firingTime = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/**
 * The clusters with a moment in [slotStartMs, slotStartMs + slotSeconds): moments are
 * recorded + phase + k * interval, per cluster for snapshots (its policy), fleet-wide
 * for certificate checks. A cluster being deleted is left out; the firing's own checks decide
 * the rest (no servers yet, another operation running).
 */
export async function dueFirings(
  db: SqlExecutor,
  a: {
    slotStartMs: number;
    slotSeconds: number;
    certificateIntervalSeconds: number;
    snapshotIntervalOverrideSeconds?: number;
    /** Only this subscription's clusters (tests, and a subscription's catch-up by hand). */
    subscriptionId?: string;
  },
): Promise<DueFiring[]> {
  const t = Math.floor(a.slotStartMs / 1000);
  const certInterval = a.certificateIntervalSeconds;
  const snapshotInterval = a.snapshotIntervalOverrideSeconds
    ? `${Math.floor(a.snapshotIntervalOverrideSeconds)}`
    : `GREATEST(1, ROUND((spec->'properties'->'snapshotPolicy'->>'intervalHours')::numeric * 3600))::bigint`;
  // due(interval, phase): the cluster's first moment at or after t is within the slot.
  const due = (interval: string, phase: string) =>
    `(MOD(MOD(floor(extract(epoch FROM created_at))::bigint + ${phase} - $1, ${interval}) + ${interval}, ${interval}) < $2)`;
  const { rows } = await db.query<{ resource_id: string; subscription_id: string; resource_group: string; snap: boolean; cert: boolean }>(
    `SELECT resource_id, subscription_id, resource_group,
            ${due(snapshotInterval, '0')} AS snap,
            ${due('$3::bigint', '$4::bigint')} AS cert
       FROM clusters
      WHERE provisioning_state <> 'Deleting'
        AND ($5::text IS NULL OR subscription_id = $5)
        AND (${due(snapshotInterval, '0')} OR ${due('$3::bigint', '$4::bigint')})
      ORDER BY resource_id`,
    [t, a.slotSeconds, certInterval, certificateSchedulePhase(certInterval), a.subscriptionId ?? null],
  );
  const out: DueFiring[] = [];
  for (const r of rows) {
    const c = { resourceKey: r.resource_id, subscriptionId: r.subscription_id, resourceGroup: r.resource_group };
    if (r.snap) out.push({ ...c, task: 'snapshot' });
    if (r.cert) out.push({ ...c, task: 'certificate' });
  }
  return out;
}

export function createFleetSafetyActivities(deps: FleetSafetyDeps) {
  return {
    /**
     * Starts the firings due in the slot that begins at `slotStart` (RFC 3339, whole seconds), at
     * most `concurrency` starts at a time, heartbeating the count (when run as an activity task). A firing already started (a
     * retry of this activity) counts as such, nothing else happens to it.
     */
    async startDueFirings(a: {
      slotStart: string;
      slotSeconds: number;
      subscriptionId?: string;
    }): Promise<{ due: number; started: number; alreadyStarted: number }> {
      const slotStartMs = Date.parse(a.slotStart);
      if (!Number.isFinite(slotStartMs) || !Number.isInteger(a.slotSeconds) || a.slotSeconds < 1)
        throw workerFailure(
          'InvalidOperationInput',
          `a fleet firing needs an RFC 3339 slotStart and whole slotSeconds >= 1 (got ${a.slotStart}, ${a.slotSeconds})`,
        );
      const firings = await dueFirings(deps.db, {
        slotStartMs,
        slotSeconds: a.slotSeconds,
        certificateIntervalSeconds: deps.certificateIntervalSeconds,
        ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
        ...(deps.snapshotIntervalOverrideSeconds ? { snapshotIntervalOverrideSeconds: deps.snapshotIntervalOverrideSeconds } : {}),
      });
      const at = firingTime(slotStartMs);
      let next = 0;
      let started = 0;
      let alreadyStarted = 0;
      const startOne = async (f: DueFiring) => {
        const snapshot = f.task === 'snapshot';
        try {
          await deps.workflows.start(snapshot ? SNAPSHOT_SCHEDULE_WORKFLOW : CERTIFICATE_SCHEDULE_WORKFLOW, {
            workflowId: `${snapshot ? snapshotScheduleId(f.resourceKey) : certificateScheduleId(f.resourceKey)}/scheduled-${at}`,
            taskQueue: deps.taskQueue,
            // A firing that already ran (a retried or buffered fleet firing of this slot) is not run again.
            workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            args: [{ resourceKey: f.resourceKey }],
            typedSearchAttributes: clusterSearchAttributes(f, f.resourceGroup, snapshot ? 'snapshot' : 'rotate'),
          });
          started++;
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          alreadyStarted++;
        }
        // A local activity (workflows/fleet-safety.ts) has no heartbeat; its workflow task is kept alive by the worker.
        if (!Context.current().info.isLocal) Context.current().heartbeat({ started, alreadyStarted });
      };
      await Promise.all(
        Array.from({ length: Math.min(deps.concurrency ?? 16, firings.length) }, async () => {
          while (next < firings.length) await startOne(firings[next++]!);
        }),
      );
      return { due: firings.length, started, alreadyStarted };
    },
  };
}

export type FleetSafetyActivities = ReturnType<typeof createFleetSafetyActivities>;

/** The fleet schedule's id for a task queue. */
export const fleetSafetyScheduleId = (taskQueue: string) => `fleet/safety-firings/${taskQueue}`;
export const FLEET_SAFETY_WORKFLOW = 'fleetSafetyFiring';

/**
 * Creates the fleet schedule (every `slotSeconds`, starting fleetSafetyFiring) or brings its
 * interval up to date. Firings are buffered, never skipped: a slot whose firing waits for the
 * previous one still starts its clusters (late), and a slot missed while Temporal was down is
 * caught up within ten minutes.
 */
export async function ensureFleetSafetySchedule(
  client: ScheduleClient,
  o: { taskQueue: string; slotSeconds: number },
): Promise<'created' | 'updated' | 'unchanged'> {
  if (!Number.isInteger(o.slotSeconds) || o.slotSeconds < 1 || 3600 % o.slotSeconds !== 0)
    throw new Error(`the fleet schedule's slot must be whole seconds that divide an hour (got ${o.slotSeconds})`);
  return upsertIntervalSchedule(client, {
    scheduleId: fleetSafetyScheduleId(o.taskQueue),
    intervalSeconds: o.slotSeconds,
    offsetSeconds: 0,
    workflowType: FLEET_SAFETY_WORKFLOW,
    args: [{ slotSeconds: o.slotSeconds }],
    taskQueue: o.taskQueue,
    note: `safety firings every ${o.slotSeconds} s`,
    overlap: ScheduleOverlapPolicy.BUFFER_ALL,
  });
}
