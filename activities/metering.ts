// Marketplace metering (workflows/metering.ts): each firing of the control plane's one metering
// schedule reports the server hours of every cluster for each finished hour (UTC) that has no
// metering record yet, in batches of at most 25 events, a few batches at a time. The store keeps
// one record per cluster, dimension and hour, written after the Marketplace answered for it
// (Accepted, or Duplicate with the accepted event's id), so a worker that dies mid-batch sends
// only what was not recorded again, and the Marketplace answers Duplicate for what it had already
// taken. Hours that can no longer be sent (more than 24 hours old, less a margin) are recorded
// Expired; clusters of Suspended or Deleted subscriptions are not metered. When the API is
// unavailable the firing stops and the next one catches up (within the 24 hours).
import { Context } from '@temporalio/activity';
import type { ScheduleClient } from '@temporalio/client';
import { upsertIntervalSchedule } from './schedules.js';
import { workerFailure } from '../contract/errors.js';
import { HOUR_MS, METERING_SEND_MARGIN_MS, METERING_WINDOW_MS, roundQuantity, startOfHour } from '../domain/metering.js';
import type { SqlExecutor } from '../store/database.js';
import { type MeteringStatus, recordMetering, unsettledHours, type UsageHour } from '../store/metering.js';
import { MAX_BATCH_EVENTS, type MeteringApi, type UsageEventRequest, type UsageEventResult } from './metering-client.js';

/** Test hook (like the API's outbox crash hook): SIGKILL the worker right after it recorded this many events. */
export const METERING_CRASH_HOOK = 'TEST_HOOK_SIGKILL_AFTER_METERING_RECORDS';
/** Subscriptions in these states are not metered. */
export const UNMETERED_STATES = ['Suspended', 'Deleted'];
/** How far a firing may be asked to look ahead of the worker's own clock (clock skew). */
const MAX_AS_OF_AHEAD_MS = 5 * 60_000;

export interface MeteringDeps {
  db: SqlExecutor;
  api: MeteringApi;
  /** Batches in flight at once (default 4). */
  concurrency?: number;
  /** Hours before the 24-hour window still looked at, to record them Expired (default 168: a week). */
  lookbackHours?: number;
}

export interface MeteringSummary {
  asOf: string;
  /** Cluster-hours (per dimension) found without a record. */
  due: number;
  sent: number;
  accepted: number;
  duplicate: number;
  expired: number;
  rejected: number;
  /** Not sent: the subscription is Suspended or Deleted. */
  skipped: number;
  /** Why the firing stopped early (the API unavailable); the rest is left to the next firing. */
  unavailable?: string;
}

export function createMeteringActivities(deps: MeteringDeps) {
  let recorded = 0;
  const crashAfter = Number(process.env[METERING_CRASH_HOOK] ?? 0);
  const record = async (h: UsageHour, status: MeteringStatus, extra: { quantity?: number; usageEventId?: string; detail?: string }) => {
    const first = await recordMetering(deps.db, {
      resourceKey: h.resourceKey,
      subscriptionId: h.subscriptionId,
      hour: h.hour,
      planId: h.planId,
      dimension: h.dimension,
      quantity: extra.quantity ?? roundQuantity(h.quantity),
      status,
      ...(extra.usageEventId ? { usageEventId: extra.usageEventId } : {}),
      ...(extra.detail ? { detail: extra.detail.slice(0, 500) } : {}),
    });
    if (crashAfter > 0 && ++recorded === crashAfter) process.kill(process.pid, 'SIGKILL');
    return first;
  };

  return {
    /**
     * Reports every finished hour before `asOf` (RFC 3339) that has no metering record. Safe to
     * run again and concurrently: each key is recorded once, and the Marketplace answers
     * Duplicate for an event it already took.
     */
    async meterUsage(a: { asOf: string; subscriptionId?: string }): Promise<MeteringSummary> {
      const asOfMs = Date.parse(a.asOf);
      if (typeof a.asOf !== 'string' || !Number.isFinite(asOfMs))
        throw workerFailure('InvalidOperationInput', `a metering firing needs an RFC 3339 asOf (got ${String(a.asOf).slice(0, 40)})`);
      if (asOfMs > Date.now() + MAX_AS_OF_AHEAD_MS)
        throw workerFailure(
          'InvalidOperationInput',
          `a metering firing cannot report hours that have not ended yet (asOf ${a.asOf} is in the future)`,
        );
      const end = startOfHour(asOfMs);
      // The first hour whose start is still comfortably inside the Marketplace's 24 hours.
      const sendFrom = Math.ceil((asOfMs - METERING_WINDOW_MS + METERING_SEND_MARGIN_MS) / HOUR_MS) * HOUR_MS;
      const summary: MeteringSummary = {
        asOf: new Date(asOfMs).toISOString(),
        due: 0,
        sent: 0,
        accepted: 0,
        duplicate: 0,
        expired: 0,
        rejected: 0,
        skipped: 0,
      };

      const only = a.subscriptionId ? { subscriptionId: a.subscriptionId } : {};
      const lookFrom = new Date(end - (deps.lookbackHours ?? 168) * HOUR_MS);
      const stale = await unsettledHours(deps.db, { from: lookFrom, to: new Date(sendFrom), ...only });
      for (const h of stale) {
        const why = UNMETERED_STATES.includes(h.subscriptionState ?? '')
          ? `not sent: subscription ${h.subscriptionState}`
          : 'not accepted within 24 hours';
        if (await record(h, 'Expired', { detail: why })) summary.expired++;
      }
      const fresh = await unsettledHours(deps.db, { from: new Date(sendFrom), to: new Date(end), ...only });
      summary.due = stale.length + fresh.length;
      const toSend = fresh.filter((h) => !UNMETERED_STATES.includes(h.subscriptionState ?? ''));
      summary.skipped = fresh.length - toSend.length;

      const batches: UsageHour[][] = [];
      for (let i = 0; i < toSend.length; i += MAX_BATCH_EVENTS) batches.push(toSend.slice(i, i + MAX_BATCH_EVENTS));
      let next = 0;
      const sendOne = async (batch: UsageHour[]) => {
        Context.current().heartbeat({ sent: summary.sent });
        const answer = await deps.api.batchUsageEvent(batch.map(eventOf));
        if (answer.kind === 'unavailable') {
          summary.unavailable ??= answer.reason;
          return;
        }
        summary.sent += batch.length;
        for (const [i, h] of batch.entries()) {
          const outcome = outcomeOf(answer.result[i]!);
          if (!outcome) continue; // a passing error: sent again by a later firing
          if (await record(h, outcome.status, outcome)) summary[outcomeKey[outcome.status]]++;
        }
        Context.current().heartbeat({ sent: summary.sent });
      };
      await Promise.all(
        Array.from({ length: Math.min(deps.concurrency ?? 4, batches.length) }, async () => {
          while (next < batches.length && !summary.unavailable) await sendOne(batches[next++]!);
        }),
      );
      return summary;
    },
  };
}

export type MeteringActivities = ReturnType<typeof createMeteringActivities>;

const outcomeKey = { Accepted: 'accepted', Duplicate: 'duplicate', Expired: 'expired', Rejected: 'rejected' } as const;

function eventOf(h: UsageHour): UsageEventRequest {
  return {
    resourceUri: h.resourceKey,
    quantity: roundQuantity(h.quantity),
    dimension: h.dimension,
    effectiveStartTime: h.hour.toISOString(),
    planId: h.planId,
  };
}

/** What to record for one event's answer; undefined for a passing error (sent again later). */
function outcomeOf(r: UsageEventResult): { status: MeteringStatus; usageEventId?: string; quantity?: number; detail?: string } | undefined {
  const detail = r.error?.details?.[0]?.message ?? r.error?.message;
  switch (r.status) {
    case 'Accepted':
      return { status: 'Accepted', ...(r.usageEventId ? { usageEventId: r.usageEventId } : {}) };
    case 'Duplicate': {
      const original = r.error?.additionalInfo?.acceptedMessage;
      return {
        status: 'Duplicate',
        ...(original?.usageEventId ? { usageEventId: original.usageEventId } : {}),
        ...(typeof original?.quantity === 'number' ? { quantity: original.quantity } : {}),
      };
    }
    case 'Expired':
      return { status: 'Expired', detail: `the Marketplace answered Expired${detail ? `: ${detail}` : ''}` };
    case 'Error':
      return undefined;
    default:
      return { status: 'Rejected', detail: `${r.status}${detail ? `: ${detail}` : ''}` };
  }
}

/** The metering schedule's id for a task queue, and the workflow it starts. */
export const meteringScheduleId = (taskQueue: string) => `fleet/metering/${taskQueue}`;
export const METERING_WORKFLOW = 'meteringFiring';

/**
 * Creates the metering schedule (every `intervalSeconds`, at `offsetSeconds` past the interval's
 * start: by default five minutes past each hour) or brings it up to date. A firing that finds the
 * previous one still running is skipped (the next one catches up).
 */
export async function ensureMeteringSchedule(
  client: ScheduleClient,
  o: { taskQueue: string; intervalSeconds: number; offsetSeconds?: number },
): Promise<'created' | 'updated' | 'unchanged'> {
  if (!Number.isInteger(o.intervalSeconds) || o.intervalSeconds < 60)
    throw new Error(`the metering interval must be whole seconds, at least 60 (got ${o.intervalSeconds})`);
  return upsertIntervalSchedule(client, {
    scheduleId: meteringScheduleId(o.taskQueue),
    intervalSeconds: o.intervalSeconds,
    offsetSeconds: o.offsetSeconds ?? 300,
    workflowType: METERING_WORKFLOW,
    args: [{}],
    taskQueue: o.taskQueue,
    note: `Marketplace metering every ${o.intervalSeconds} s`,
    catchupWindowMs: 3_600_000,
  });
}
