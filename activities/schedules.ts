// Per-cluster Temporal schedules (snapshots, certificate rotation): one interval schedule per
// cluster and purpose, created or brought up to date idempotently, removed on delete. Overlapping
// firings are skipped; missed firings are caught up within a short window only.
import { ApplicationFailure } from '@temporalio/activity';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleClient } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';

const CATCHUP_WINDOW_MS = 10 * 60_000;

export interface IntervalSchedule {
  scheduleId: string;
  intervalSeconds: number;
  workflowType: string;
  args: unknown[];
  taskQueue: string;
  note: string;
  /** Search attributes of every workflow the schedule starts (SREs find them by cluster). */
  searchAttributes?: SearchAttributePair[];
  /**
   * Seconds the firings are shifted from the moment of creation (the first firing comes after
   * this long). Two schedules of one cluster made in the same second would otherwise fire in the
   * same second whenever their intervals meet, and the one-operation rule would skip one of them.
   */
  phaseSeconds?: number;
  /** Instead of a phase from now: this many seconds past each interval's start, whenever it is made. */
  offsetSeconds?: number;
  /** Default SKIP: a firing that finds the previous one running is dropped. */
  overlap?: ScheduleOverlapPolicy;
  /** How long after a missed firing (Temporal down) it is still made up; default ten minutes. */
  catchupWindowMs?: number;
}

/**
 * Creates the schedule, or updates it when its interval, workflow or task queue differ. The
 * first firing comes one interval after creation, or phaseSeconds after it (the phase is that
 * moment, which also spreads clusters over the interval).
 */
export async function upsertIntervalSchedule(client: ScheduleClient, s: IntervalSchedule): Promise<'created' | 'updated' | 'unchanged'> {
  const phase = s.phaseSeconds ?? 0;
  const offsetSeconds = s.offsetSeconds ?? (Math.floor(Date.now() / 1000) + phase) % s.intervalSeconds;
  const spec = { intervals: [{ every: s.intervalSeconds * 1000, offset: (offsetSeconds % s.intervalSeconds) * 1000 }] };
  // Temporal appends each firing's time to the workflow id.
  const action = {
    type: 'startWorkflow' as const,
    workflowType: s.workflowType,
    args: s.args,
    taskQueue: s.taskQueue,
    workflowId: `${s.scheduleId}/scheduled`,
    ...(s.searchAttributes ? { typedSearchAttributes: s.searchAttributes } : {}),
  };
  const policies = { overlap: s.overlap ?? ScheduleOverlapPolicy.SKIP, catchupWindow: s.catchupWindowMs ?? CATCHUP_WINDOW_MS };
  const handle = client.getHandle(s.scheduleId);
  for (let attempt = 0; attempt < 2; attempt++) {
    const current = await handle.describe().catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    });
    if (!current) {
      try {
        await client.create({ scheduleId: s.scheduleId, spec, action, policies, state: { note: s.note } });
        return 'created';
      } catch (err) {
        if (err instanceof ScheduleAlreadyRunning) continue; // made concurrently: look again
        throw err;
      }
    }
    const interval = current.spec.intervals?.[0];
    if (
      interval?.every === s.intervalSeconds * 1000 &&
      (s.offsetSeconds === undefined || (interval.offset ?? 0) === spec.intervals[0]!.offset) &&
      current.action.taskQueue === s.taskQueue &&
      current.action.workflowType === s.workflowType
    )
      return 'unchanged';
    await handle.update((prev) => ({ spec, action, policies, state: { paused: prev.state.paused, note: s.note } }));
    return 'updated';
  }
  throw ApplicationFailure.retryable(`schedule ${s.scheduleId} kept changing while it was being set up`);
}

/** Deletes a schedule; one that is already gone is fine. */
export async function deleteSchedule(client: ScheduleClient, scheduleId: string): Promise<boolean> {
  try {
    await client.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}
