// How long an operation's work waits after the worker was SIGKILLed and started again (issue 15,
// item 6; the chaos run's figures): from the restart until an activity attempt starts on the new
// worker (a pending activity whose last attempt started after the restart: the interrupted one,
// retried once Temporal noticed its heartbeat stop) or the workflow records new work (an
// activity or workflow task completed after the restart), whichever is seen first. Read from
// Temporal's own view of the workflow (describe and history), polled every 200 ms.
import type { Client } from '@temporalio/client';

export interface Resumed {
  /** Seconds from the restart until the work resumed; undefined when it had not within the bound. */
  seconds: number | undefined;
  /** What resumed: the activity type and attempt, or the history event seen. */
  what: string;
}

// Temporal's API enums as numbers (temporal.api.enums.v1): a pending activity's state, and the
// history events that mean a worker did work for the workflow.
const PENDING_ACTIVITY_STATE_STARTED = 2;
const WORK_EVENTS: Record<number, string> = { 6: 'workflow task completed', 10: 'activity task started', 11: 'activity task completed' };

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : 0;

/**
 * Waits (at most `boundMs`) until the workflow's work resumes after `restartedAt` (ms since the
 * epoch), or the workflow has closed.
 */
export async function resumeAfterRestart(client: Client, workflowId: string, restartedAt: number, boundMs = 120_000): Promise<Resumed> {
  const handle = client.workflow.getHandle(workflowId);
  for (;;) {
    const desc = await handle.describe();
    for (const a of desc.raw.pendingActivities ?? []) {
      const started = ms(a.lastStartedTime);
      if (started > restartedAt && Number(a.state) === PENDING_ACTIVITY_STATE_STARTED)
        return { seconds: (started - restartedAt) / 1000, what: `${a.activityType?.name ?? 'activity'} attempt ${a.attempt ?? 1}` };
    }
    for (const e of (await handle.fetchHistory()).events ?? []) {
      const what = WORK_EVENTS[Number(e.eventType)];
      const at = ms(e.eventTime);
      if (what && at > restartedAt) return { seconds: (at - restartedAt) / 1000, what };
    }
    if (desc.status.name !== 'RUNNING') return { seconds: undefined, what: `workflow ${desc.status.name.toLowerCase()}` };
    if (Date.now() > restartedAt + boundMs) return { seconds: undefined, what: `nothing within ${boundMs / 1000} s` };
    await new Promise((r) => setTimeout(r, 200));
  }
}
