// Marketplace metering on the real Temporal server and store against the twin's Metering Service
// (its clock moved by the test): each finished hour of each cluster is sent once, as server hours
// under its plan's dimension; a second firing sends nothing; a 2-hour outage of the API is caught
// up afterwards with nothing lost or doubled; hours more than 24 hours old are recorded Expired
// and never sent; Suspended and Deleted subscriptions are not metered; bad input to a firing is
// refused with a precise error and records nothing.
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createMeteringActivities, ensureMeteringSchedule, meteringScheduleId, type MeteringSummary } from '../../activities/metering.js';
import { deleteSchedule } from '../../activities/schedules.js';
import { meteringClient, type MeteringApi } from '../../activities/metering-client.js';
import { sdkCredential, startTestCloud, type TestCloud } from '../../apps/local-cloud/src/testing.js';
import { startWorker } from '../../apps/worker/src/worker.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { startOfHour } from '../../domain/metering.js';
import { meteringReconciliation, meteringRecords } from '../../store/metering.js';
import { useTemporalClient, useWorkflowWorker } from '../support/control-plane-fixture.js';
import { acceptedEvents, clusterKey, eventKeys, HOUR, iso, meteringControl, newSubscription, usagePeriod } from '../support/metering.js';
import { useStoreDatabase } from '../support/store-fixture.js';

const stack = inject('stack');
const db = useStoreDatabase();
const taskQueue = `metering-${randomUUID()}`;
let twin: TestCloud;
let api: MeteringApi;
beforeAll(async () => {
  twin = await startTestCloud({ faultInjection: true });
  api = meteringClient({ endpoint: twin.cloud.url, credential: sdkCredential(twin.cloud), ca: twin.cloud.caCertPem });
});
afterAll(async () => {
  await twin?.dispose();
});
const client = useTemporalClient(stack);
// The production workflow and activities; the store and the client exist once beforeAll ran.
useWorkflowWorker(stack, taskQueue, () =>
  createMeteringActivities({
    db: { query: (sql, params) => db().query(sql, params) },
    api: { batchUsageEvent: (events) => api.batchUsageEvent(events) },
  }),
);

/** A firing that reports up to `asOfMs` for one subscription's clusters, with the twin's clock there too. */
async function fire(sub: string, asOfMs: number, twinNowMs = asOfMs): Promise<MeteringSummary> {
  await meteringControl(twin, 'PUT', { now: iso(twinNowMs) });
  return client.workflow.execute('meteringFiring', {
    taskQueue,
    workflowId: `metering-test/${randomUUID()}`,
    args: [{ asOf: iso(asOfMs), subscriptionId: sub }],
  });
}

describe('metering', () => {
  it('sends each finished hour of each cluster once, in server hours per plan; another firing sends nothing', async () => {
    const sub = await newSubscription(db());
    const base = startOfHour(Date.now()) - 2 * HOUR;
    const big = clusterKey(sub, 'big');
    const grows = clusterKey(sub, 'grows');
    await usagePeriod(db(), big, 3, base - 3 * HOUR);
    // One server from half past (DEVELOPMENT), three from half past the next hour (STANDARD).
    await usagePeriod(db(), grows, 1, base - 2.5 * HOUR, base - 1.5 * HOUR);
    await usagePeriod(db(), grows, 3, base - 1.5 * HOUR);
    const asOf = base + 5 * 60_000;

    const first = await fire(sub, asOf);
    expect(first).toMatchObject({ due: 7, sent: 7, accepted: 7, duplicate: 0, expired: 0, skipped: 0 });
    expect(first.unavailable).toBeUndefined();
    const hours = (n: number) => iso(base - n * HOUR);
    const events = await acceptedEvents(twin, sub);
    expect(events.map((e) => [e.resourceUri, e.dimension, e.planId, e.effectiveStartTime, e.quantity]).sort()).toEqual(
      [
        [big, 'standard-server-hours', 'standard', hours(3), 3],
        [big, 'standard-server-hours', 'standard', hours(2), 3],
        [big, 'standard-server-hours', 'standard', hours(1), 3],
        [grows, 'development-server-hours', 'development', hours(3), 0.5],
        [grows, 'development-server-hours', 'development', hours(2), 0.5],
        [grows, 'standard-server-hours', 'standard', hours(2), 1.5],
        [grows, 'standard-server-hours', 'standard', hours(1), 3],
      ].sort(),
    );
    // The store holds each accepted event's id; the hour in progress is not reported yet.
    const records = [...(await meteringRecords(db(), big)), ...(await meteringRecords(db(), grows))];
    expect(records.map((r) => r.status)).toEqual(Array(7).fill('Accepted'));
    expect(new Set(records.map((r) => r.usageEventId))).toEqual(new Set(events.map((e) => e.usageEventId)));

    expect(await fire(sub, asOf + 10 * 60_000)).toMatchObject({ due: 0, sent: 0, accepted: 0 });
    expect(await acceptedEvents(twin, sub)).toHaveLength(7);
    // Reconciled: every recorded server hour up to the last finished hour is metered.
    const lines = await meteringReconciliation(db(), { from: new Date(base - 4 * HOUR), to: new Date(base), subscriptionId: sub });
    expect(lines.map((l) => [l.resourceKey, l.dimension, l.recordedHours, l.meteredHours, l.expiredHours])).toEqual([
      [big, 'standard-server-hours', 9, 9, 0],
      [grows, 'development-server-hours', 1, 1, 0],
      [grows, 'standard-server-hours', 4.5, 4.5, 0],
    ]);
  });

  it('catches up after a 2-hour outage of the metering API: nothing lost, nothing doubled', async () => {
    const sub = await newSubscription(db());
    const key = clusterKey(sub, 'outage');
    const base = startOfHour(Date.now()) - 4 * HOUR;
    await usagePeriod(db(), key, 3, base - 3 * HOUR);
    const t1 = base + 5 * 60_000;
    expect(await fire(sub, t1)).toMatchObject({ sent: 3, accepted: 3 });

    // The API is down for two hours of the twin's clock; both hourly firings in it find it so.
    await meteringControl(twin, 'PUT', { unavailableSeconds: 7200 });
    for (const at of [t1 + HOUR, t1 + 2 * HOUR - 60_000]) {
      const during = await fire(sub, at);
      expect(during).toMatchObject({ sent: 0, accepted: 0 });
      expect(during.unavailable).toBe('HTTP 503');
    }
    expect(await meteringRecords(db(), key)).toHaveLength(3);

    // The next firing, after the outage, sends the three hours the outage held back.
    const after = await fire(sub, t1 + 3 * HOUR);
    expect(after).toMatchObject({ due: 3, sent: 3, accepted: 3, duplicate: 0 });
    expect((await meteringControl(twin, 'GET')).answeredUnavailable).toBeGreaterThanOrEqual(2);
    const events = await acceptedEvents(twin, sub);
    expect(events).toHaveLength(6);
    expect(new Set(eventKeys(events)).size).toBe(6);
    expect(events.map((e) => e.effectiveStartTime).sort()).toEqual([-3, -2, -1, 0, 1, 2].map((n) => iso(base + n * HOUR)));
    const records = await meteringRecords(db(), key);
    expect(records.map((r) => [r.hour.toISOString(), r.status, r.quantity])).toEqual(
      [-3, -2, -1, 0, 1, 2].map((n) => [iso(base + n * HOUR), 'Accepted', 3]),
    );
  });

  it('records hours more than 24 hours old as Expired and never sends them', async () => {
    const sub = await newSubscription(db());
    const key = clusterKey(sub, 'late');
    const asOf = startOfHour(Date.now()) - HOUR + 5 * 60_000;
    // Running for 27 whole hours before asOf's hour: the 4 oldest started more than 23 h 50 min before it.
    await usagePeriod(db(), key, 3, startOfHour(asOf) - 27 * HOUR);
    const summary = await fire(sub, asOf);
    expect(summary).toMatchObject({ due: 27, expired: 4, sent: 23, accepted: 23 });
    const records = await meteringRecords(db(), key);
    const expired = records.filter((r) => r.status === 'Expired');
    expect(expired.map((r) => r.hour.toISOString())).toEqual([27, 26, 25, 24].map((n) => iso(startOfHour(asOf) - n * HOUR)));
    expect(expired[0]).toMatchObject({ quantity: 3, detail: 'not accepted within 24 hours' });
    expect(expired.every((r) => r.usageEventId === undefined)).toBe(true);
    const sent = await acceptedEvents(twin, sub);
    expect(sent).toHaveLength(23);
    expect(Math.min(...sent.map((e) => Date.parse(e.effectiveStartTime)))).toBe(startOfHour(asOf) - 23 * HOUR);
    // Expired hours are settled: a later firing neither sends nor records them again.
    expect(await fire(sub, asOf + 60_000)).toMatchObject({ due: 0, sent: 0, expired: 0 });
  });

  it('records an hour the Marketplace answers Expired for (its clock ahead of ours) as Expired', async () => {
    const sub = await newSubscription(db());
    const key = clusterKey(sub, 'skewed');
    const asOf = startOfHour(Date.now()) - HOUR + 5 * 60_000;
    await usagePeriod(db(), key, 3, startOfHour(asOf) - 23 * HOUR);
    // The twin's clock runs 2 h ahead: the two oldest hours are more than 24 hours old to it.
    const summary = await fire(sub, asOf, asOf + 2 * HOUR);
    expect(summary).toMatchObject({ due: 23, sent: 23, accepted: 21, expired: 2 });
    const expired = (await meteringRecords(db(), key)).filter((r) => r.status === 'Expired');
    expect(expired.map((r) => r.hour.toISOString())).toEqual([23, 22].map((n) => iso(startOfHour(asOf) - n * HOUR)));
    expect(expired[0]!.detail).toContain('the Marketplace answered Expired: The usage event is more than 24 hours old');
    expect(await acceptedEvents(twin, sub)).toHaveLength(21);
  });

  it('does not meter Suspended or Deleted subscriptions; their hours expire unsent', async () => {
    for (const state of ['Suspended', 'Deleted'] as const) {
      const sub = await newSubscription(db(), state);
      const key = clusterKey(sub, 'stopped');
      const asOf = startOfHour(Date.now()) - HOUR + 5 * 60_000;
      await usagePeriod(db(), key, 3, startOfHour(asOf) - 26 * HOUR);
      const summary = await fire(sub, asOf);
      expect(summary).toMatchObject({ due: 26, sent: 0, accepted: 0, skipped: 23, expired: 3 });
      expect(await acceptedEvents(twin, sub)).toEqual([]);
      const records = await meteringRecords(db(), key);
      expect(records.map((r) => [r.status, r.detail])).toEqual(Array(3).fill(['Expired', `not sent: subscription ${state}`]));
    }
  });

  it('refuses a firing without a usable asOf, or one in the future, and records nothing', async () => {
    const sub = await newSubscription(db());
    await usagePeriod(db(), clusterKey(sub, 'bad-input'), 3, startOfHour(Date.now()) - 3 * HOUR);
    const activities = createMeteringActivities({ db: db(), api });
    await expect(activities.meterUsage({ asOf: 'yesterday', subscriptionId: sub })).rejects.toThrow(
      /a metering firing needs an RFC 3339 asOf \(got yesterday\)/,
    );
    const future = iso(Date.now() + HOUR);
    await expect(activities.meterUsage({ asOf: future, subscriptionId: sub })).rejects.toThrow(
      `a metering firing cannot report hours that have not ended yet (asOf ${future} is in the future)`,
    );
    expect(await meteringRecords(db(), clusterKey(sub, 'bad-input'))).toEqual([]);
    expect(await acceptedEvents(twin, sub)).toEqual([]);
  });

  it('is fired by one schedule per task queue, five minutes past each hour; a bad interval is refused', async () => {
    const queue = `metering-schedule-${randomUUID()}`;
    await expect(ensureMeteringSchedule(client.schedule, { taskQueue: queue, intervalSeconds: 30 })).rejects.toThrow(
      'the metering interval must be whole seconds, at least 60 (got 30)',
    );
    await expect(client.schedule.getHandle(meteringScheduleId(queue)).describe()).rejects.toThrow();
    // The worker makes it when it starts with metering on (its arguments encrypted with the worker's keys).
    const payloadCodec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${randomBytes(32).toString('base64')}`));
    const worker = await startWorker({
      temporal: stack.temporal,
      db: db(),
      taskQueue: queue,
      payloadCodec,
      metering: { api, intervalSeconds: 3600 },
    });
    const schedules = new Client({
      connection: client.connection,
      namespace: stack.temporal.namespace,
      dataConverter: { payloadCodecs: [payloadCodec] },
    }).schedule;
    try {
      await worker.shutdown();
      expect(await ensureMeteringSchedule(schedules, { taskQueue: queue, intervalSeconds: 3600 })).toBe('unchanged');
      const d = await schedules.getHandle(meteringScheduleId(queue)).describe();
      expect(d.spec.intervals?.[0]).toEqual({ every: 3_600_000, offset: 300_000 });
      expect(d.policies.overlap).toBe('SKIP');
      expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'meteringFiring', taskQueue: queue });
    } finally {
      await deleteSchedule(client.schedule, meteringScheduleId(queue));
    }
  });
});
