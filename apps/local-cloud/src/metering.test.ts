// The twin's Marketplace Metering Service (metering.ts, metering-routes.ts) over HTTPS with the
// twin's own tokens: one event per resource, dimension and hour (409 Duplicate naming the accepted
// one), the 24-hour rule against the twin's movable clock, batches of at most 25 with a status per
// event, precise 400s that accept nothing, the test-only outage, and accepted events kept across
// a restart.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { FAULT_ADMIN_HEADER } from './faults.js';
import { MARKETPLACE_API_AUDIENCE, METERING_ADMIN_PATH } from './metering-routes.js';
import { startTestCloud, type TestCloud } from './testing.js';

let t: TestCloud;
let plain: TestCloud;
beforeAll(async () => {
  [t, plain] = await Promise.all([startTestCloud({ faultInjection: true }), startTestCloud()]);
});
afterAll(async () => {
  await Promise.all([t?.dispose(), plain?.dispose()]);
});

const HOUR = 3_600_000;
const hourAgo = (n: number) => new Date(Math.floor(Date.now() / HOUR) * HOUR - n * HOUR).toISOString();
const token = async (c: TestCloud, audience = MARKETPLACE_API_AUDIENCE) => (await c.credential.getToken(`${audience}/.default`)).token;
const post = async (
  c: TestCloud,
  api: 'usageEvent' | 'batchUsageEvent',
  body: unknown,
  o: { version?: string; auth?: string | null } = {},
) => {
  const auth = o.auth === undefined ? `Bearer ${await token(c)}` : o.auth;
  const res = await httpCall(`${c.cloud.url}/api/${api}?api-version=${o.version ?? '2018-08-31'}`, {
    method: 'POST',
    ca: c.cloud.caCertPem,
    body: JSON.stringify(body),
    headers: auth ? { authorization: auth } : {},
  });
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as Record<string, any>) : {}, headers: res.headers };
};
const admin = async (c: TestCloud, method: string, body?: unknown, secret: string | null = c.cloud.controlPlaneIdentity.header) => {
  const res = await httpCall(`${c.cloud.url}${METERING_ADMIN_PATH}`, {
    method,
    ca: c.cloud.caCertPem,
    headers: secret === null ? {} : { [FAULT_ADMIN_HEADER]: secret },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, body: JSON.parse(res.body) as Record<string, any> };
};
const resourceUri = () => `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/c-${randomUUID().slice(0, 8)}`;
const event = (o: Record<string, unknown> = {}) => ({
  resourceUri: resourceUri(),
  quantity: 3,
  dimension: 'standard-server-hours',
  effectiveStartTime: hourAgo(2),
  planId: 'standard',
  ...o,
});
const acceptedCount = async () => (await admin(t, 'GET')).body.accepted as number;

describe('usageEvent', () => {
  it('accepts an event once; another in the same hour is 409 Duplicate naming the accepted one', async () => {
    const e = event();
    const first = await post(t, 'usageEvent', e);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      usageEventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'Accepted',
      messageTime: expect.any(String),
      ...e,
    });
    const later = { ...e, quantity: 5, effectiveStartTime: new Date(Date.parse(e.effectiveStartTime) + 30 * 60_000).toISOString() };
    const again = await post(t, 'usageEvent', later);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      code: 'Conflict',
      message: 'This usage event already exist.',
      additionalInfo: { acceptedMessage: { ...e, usageEventId: first.body.usageEventId, status: 'Duplicate' } },
    });
    // Another dimension or hour of the same resource is an event of its own.
    expect((await post(t, 'usageEvent', { ...e, dimension: 'development-server-hours' })).status).toBe(200);
    expect((await post(t, 'usageEvent', { ...e, effectiveStartTime: hourAgo(3) })).status).toBe(200);
  });

  it('answers bad input with a 400 naming each problem, and accepts nothing', async () => {
    const before = await acceptedCount();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ resourceUri: undefined }, 'ResourceId', 'The resourceId (or resourceUri) is required.'],
      [{ resourceId: randomUUID() }, 'ResourceId', 'Give either resourceId or resourceUri, not both.'],
      [{ resourceUri: undefined, resourceId: 'not-a-guid' }, 'ResourceId', 'The resourceId must be a GUID (a SaaS subscription id).'],
      [{ resourceUri: 'clusters/c1' }, 'ResourceUri', 'The resourceUri must be an Azure resource id (/subscriptions/...).'],
      [{ quantity: 0 }, 'Quantity', 'The quantity must be a number above 0.'],
      [{ quantity: '3' }, 'Quantity', 'The quantity must be a number above 0.'],
      [{ dimension: 'bad dimension' }, 'Dimension', 'The dimension must be 1 to 50 letters, digits, - or _.'],
      [{ planId: '' }, 'PlanId', 'The planId is required (1 to 50 characters).'],
      [{ effectiveStartTime: 'yesterday' }, 'EffectiveStartTime', 'The effectiveStartTime must be a date and time (ISO 8601, UTC).'],
      [
        { effectiveStartTime: new Date(Date.now() + HOUR).toISOString() },
        'EffectiveStartTime',
        'The effectiveStartTime must not be in the future.',
      ],
      [{ extra: 1 }, 'extra', "The field 'extra' is not part of a usage event."],
    ];
    for (const [change, target, message] of cases) {
      const res = await post(t, 'usageEvent', JSON.parse(JSON.stringify(event(change))));
      expect(res.status, JSON.stringify(change)).toBe(400);
      expect(res.body).toMatchObject({ code: 'BadArgument', message: 'One or more errors have occurred.', target: 'usageEventRequest' });
      expect(res.body.details).toContainEqual({ code: expect.any(String), target, message });
    }
    const version = await post(t, 'usageEvent', event(), { version: '2024-01-01' });
    expect(version.status).toBe(400);
    expect(version.body.details[0].message).toBe("The api-version '2024-01-01' is not supported; use 2018-08-31.");
    expect(await acceptedCount()).toBe(before);
  });

  it('needs a token of the twin for the Marketplace API', async () => {
    expect((await post(t, 'usageEvent', event(), { auth: null })).status).toBe(401);
    const arm = await post(t, 'usageEvent', event(), { auth: `Bearer ${await token(t, 'https://management.azure.com')}` });
    expect(arm.status).toBe(401);
    expect(arm.body.error.code).toBe('InvalidAuthenticationToken');
    // A token of another twin (another tenant's issuer and key) is refused too.
    expect((await post(t, 'usageEvent', event(), { auth: `Bearer ${await token(plain)}` })).status).toBe(401);
  });
});

describe('batchUsageEvent', () => {
  it('answers each of up to 25 events, duplicates (also within the batch) with the accepted event', async () => {
    const events = Array.from({ length: 24 }, () => event());
    const accepted = await post(t, 'usageEvent', events[0]);
    const res = await post(t, 'batchUsageEvent', { request: [...events, { ...events[1]! }] });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(25);
    const statuses = (res.body.result as Array<{ status: string }>).map((r) => r.status);
    expect(statuses).toEqual(['Duplicate', ...Array(23).fill('Accepted'), 'Duplicate']);
    expect(res.body.result[0]).toMatchObject({
      ...events[0],
      status: 'Duplicate',
      error: { code: 'Conflict', additionalInfo: { acceptedMessage: { usageEventId: accepted.body.usageEventId, status: 'Duplicate' } } },
    });
    expect(res.body.result[24].error.additionalInfo.acceptedMessage.usageEventId).toBe(res.body.result[1].usageEventId);
  });

  it('refuses more than 25 events, an empty batch and a body without "request", accepting nothing', async () => {
    const before = await acceptedCount();
    const over = await post(t, 'batchUsageEvent', { request: Array.from({ length: 26 }, () => event()) });
    expect(over.status).toBe(400);
    expect(over.body.details[0].message).toBe('The request must be {"request": [...]} with 1 to 25 usage events (got 26).');
    expect((await post(t, 'batchUsageEvent', { request: [] })).status).toBe(400);
    expect((await post(t, 'batchUsageEvent', [event()])).status).toBe(400);
    expect((await post(t, 'batchUsageEvent', { request: [event()], other: 1 })).body.details[0].target).toBe('other');
    expect(await acceptedCount()).toBe(before);
  });

  it('marks invalid events in the batch and accepts the valid ones', async () => {
    const res = await post(t, 'batchUsageEvent', {
      request: [event({ quantity: -1 }), event({ dimension: '' }), event({ planId: 7 }), event()],
    });
    expect((res.body.result as Array<{ status: string }>).map((r) => r.status)).toEqual([
      'InvalidQuantity',
      'InvalidDimension',
      'BadArgument',
      'Accepted',
    ]);
    expect(res.body.result[0].error.details[0]).toEqual({
      code: 'InvalidQuantity',
      target: 'Quantity',
      message: 'The quantity must be a number above 0.',
    });
  });
});

describe('the clock, the 24-hour rule and outages (test-only)', () => {
  it('refuses usage more than 24 hours old: 400 alone, Expired in a batch; a clock moved back accepts it', async () => {
    const old = event({ effectiveStartTime: hourAgo(25) });
    const single = await post(t, 'usageEvent', old);
    expect(single.status).toBe(400);
    expect(single.body.details[0]).toMatchObject({
      target: 'EffectiveStartTime',
      message: expect.stringContaining('more than 24 hours old'),
    });
    const batch = await post(t, 'batchUsageEvent', { request: [old] });
    expect(batch.body.result[0]).toMatchObject({ status: 'Expired', ...old });
    try {
      const moved = await admin(t, 'PUT', { now: new Date(Date.now() - 3 * HOUR).toISOString() });
      expect(Date.parse(moved.body.now)).toBeLessThan(Date.now() - 3 * HOUR + 60_000);
      expect((await post(t, 'usageEvent', old)).status).toBe(200);
      // At the moved clock, an hour ago (real time) is in the future.
      expect((await post(t, 'usageEvent', event({ effectiveStartTime: hourAgo(1) }))).body.details[0].message).toBe(
        'The effectiveStartTime must not be in the future.',
      );
    } finally {
      await admin(t, 'PUT', { now: new Date().toISOString() });
    }
  });

  it('answers 503 during an outage until the clock has passed it, or it is ended', async () => {
    expect((await admin(t, 'PUT', { unavailableSeconds: 7200 })).body.unavailableUntil).toBeTruthy();
    const during = await post(t, 'batchUsageEvent', { request: [event()] });
    expect(during.status).toBe(503);
    expect(during.headers['retry-after']).toBeTruthy();
    expect((await post(t, 'usageEvent', event())).status).toBe(503);
    try {
      await admin(t, 'PUT', { now: new Date(Date.now() + 2 * HOUR + 1000).toISOString() });
      const after = await admin(t, 'GET');
      expect(after.body).toMatchObject({ answeredUnavailable: 2 });
      expect(after.body.unavailableUntil).toBeUndefined();
      expect((await post(t, 'usageEvent', event({ effectiveStartTime: new Date(Date.now() + HOUR).toISOString() }))).status).toBe(200);
    } finally {
      await admin(t, 'PUT', { now: new Date().toISOString() });
    }
    await admin(t, 'PUT', { unavailableSeconds: 600 });
    expect((await post(t, 'usageEvent', event())).status).toBe(503);
    await admin(t, 'DELETE');
    expect((await post(t, 'usageEvent', event())).status).toBe(200);
  });

  it('keeps its controls to the admin secret, and off unless fault injection is on', async () => {
    expect((await admin(t, 'PUT', { unavailableSeconds: 60 }, null)).status).toBe(401);
    expect((await admin(t, 'GET', undefined, 'x'.repeat(43))).status).toBe(401);
    const bad = await admin(t, 'PUT', { now: 'soon' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('now');
    expect((await admin(t, 'PUT', {})).body.error.message).toContain('give now, unavailableSeconds or both');
    expect((await admin(plain, 'GET')).status).toBe(404);
    expect((await post(t, 'usageEvent', event())).status).toBe(200);
  });
});

it('keeps accepted events across a restart of the twin', async () => {
  const e = event();
  const first = await post(t, 'usageEvent', e);
  await t.restart();
  const again = await post(t, 'usageEvent', e);
  expect(again.status).toBe(409);
  expect(again.body.additionalInfo.acceptedMessage.usageEventId).toBe(first.body.usageEventId);
});
