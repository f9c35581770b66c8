// Where a workflow's time goes: the intervals its activities ran, from two sources. Activities
// run through the Temporal server: from their Started to their Completed event in the workflow's
// history (as bench:create always measured them). Local activities leave only a marker in the
// history, written when the workflow task completes, so their intervals come from the worker
// itself: its "Activity started" and "Activity completed" log entries (the SDK's own, at debug
// level) caught by the logger the bench installs in its Temporal runtime. The overhead of an
// operation is its total minus the union of these intervals (parallel activities count once).
import type { LogEntry } from '@temporalio/worker';

export interface Interval {
  type: string;
  local: boolean;
  start: number;
  end: number;
}

type Timestamp = { seconds?: unknown; nanos?: number | null } | null | undefined;
const ms = (t: Timestamp) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

interface HistoryEvent {
  eventId?: unknown;
  eventTime?: Timestamp;
  workflowTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  workflowTaskCompletedEventAttributes?: { startedEventId?: unknown } | null;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string | null } | null } | null;
  activityTaskStartedEventAttributes?: { scheduledEventId?: unknown } | null;
  activityTaskCompletedEventAttributes?: { startedEventId?: unknown } | null;
  activityTaskFailedEventAttributes?: { startedEventId?: unknown } | null;
  activityTaskCanceledEventAttributes?: { startedEventId?: unknown } | null;
}

/** The activities' intervals (Started to Completed, Failed or Canceled) in a history. */
export function historyIntervals(events: HistoryEvent[]): Interval[] {
  const scheduled = new Map<number, string>();
  const started = new Map<number, { type: string; at: number }>();
  const out: Interval[] = [];
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.activityTaskScheduledEventAttributes) scheduled.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (e.activityTaskStartedEventAttributes)
      started.set(id, { type: scheduled.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? '?', at: ms(e.eventTime) });
    const ended =
      e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskCanceledEventAttributes ?? undefined;
    if (ended) {
      const s = started.get(Number(ended.startedEventId));
      if (s) out.push({ type: s.type, local: false, start: s.at, end: ms(e.eventTime) });
    }
  }
  return out;
}

/** Time spent waiting in the server and in workflow tasks, summed over a history (parallel ones add up). */
export interface HistoryWaits {
  /** Workflow tasks: scheduled until a worker took them (the server's dispatch). */
  workflowTaskQueueMs: number;
  /** Workflow tasks: taken until completed (the worker running the workflow code, its interceptors and codec). */
  workflowTaskRunMs: number;
  /** Activities: scheduled until a worker took them. */
  activityQueueMs: number;
  workflowTasks: number;
}

export function historyWaits(events: HistoryEvent[]): HistoryWaits {
  const at = new Map<number, number>();
  const waits: HistoryWaits = { workflowTaskQueueMs: 0, workflowTaskRunMs: 0, activityQueueMs: 0, workflowTasks: 0 };
  for (const e of events) {
    const t = ms(e.eventTime);
    at.set(Number(e.eventId), t);
    const since = (id: unknown) => t - (at.get(Number(id)) ?? t);
    if (e.workflowTaskStartedEventAttributes) waits.workflowTaskQueueMs += since(e.workflowTaskStartedEventAttributes.scheduledEventId);
    if (e.workflowTaskCompletedEventAttributes) {
      waits.workflowTaskRunMs += since(e.workflowTaskCompletedEventAttributes.startedEventId);
      waits.workflowTasks++;
    }
    if (e.activityTaskStartedEventAttributes) waits.activityQueueMs += since(e.activityTaskStartedEventAttributes.scheduledEventId);
  }
  return waits;
}

/** When the workflow started (its first event, the server's clock: epoch ms). */
export function historyStartMs(events: HistoryEvent[]): number {
  return ms(events[0]?.eventTime);
}

/** Collects the worker's local-activity runs from its log entries, per workflow id. */
export class LocalActivityLog {
  readonly #open = new Map<string, { type: string; workflowId: string; start: number }>();
  readonly #done = new Map<string, Interval[]>();

  /** Give every log entry of the worker's runtime here. */
  take(entry: LogEntry): void {
    const m = entry.meta as { isLocal?: boolean; taskToken?: string; activityType?: string; workflowId?: string } | undefined;
    if (!m?.isLocal || !m.taskToken || !m.workflowId) return;
    const at = Number(entry.timestampNanos / 1_000_000n);
    if (entry.message === 'Activity started')
      this.#open.set(m.taskToken, { type: m.activityType ?? '?', workflowId: m.workflowId, start: at });
    else if (entry.message.startsWith('Activity ')) {
      const s = this.#open.get(m.taskToken);
      if (!s) return;
      this.#open.delete(m.taskToken);
      const list = this.#done.get(s.workflowId) ?? [];
      list.push({ type: s.type, local: true, start: s.start, end: at });
      this.#done.set(s.workflowId, list);
    }
  }

  /** The local activities that ran for a workflow. */
  of(workflowId: string): Interval[] {
    return this.#done.get(workflowId) ?? [];
  }
}

/** The time covered by at least one interval. */
export function unionMs(intervals: Interval[]): number {
  const sorted = [...intervals].sort((a, b) => a.start - b.start);
  let total = 0;
  let end = -Infinity;
  let start = -Infinity;
  for (const i of sorted) {
    if (i.start > end) {
      if (end > start) total += end - start;
      start = i.start;
      end = i.end;
    } else end = Math.max(end, i.end);
  }
  if (end > start) total += end - start;
  return total;
}
