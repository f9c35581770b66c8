// The twin's test-only fault injection (faults.ts): absent unless enabled, guarded by the admin
// secret, 429 with Retry-After then 503 on ARM requests for the time asked, token endpoints
// untouched, and the official SDK rides it out by honouring Retry-After.
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { FAULT_ADMIN_HEADER, FAULT_ADMIN_PATH } from './faults.js';
import { startTestCloud, type TestCloud } from './testing.js';

let t: TestCloud;
let plain: TestCloud;
beforeAll(async () => {
  [t, plain] = await Promise.all([startTestCloud({ faultInjection: true }), startTestCloud()]);
});
afterAll(async () => {
  await Promise.all([t?.dispose(), plain?.dispose()]);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const token = async (c: TestCloud) => (await c.credential.getToken('https://management.azure.com/.default')).token;
const listGroups = async (c: TestCloud) =>
  httpCall(`${c.cloud.url}/subscriptions/${c.cloud.subscriptionId}/resourcegroups?api-version=2021-04-01`, {
    ca: c.cloud.caCertPem,
    headers: { authorization: `Bearer ${await token(c)}` },
  });
const admin = (c: TestCloud, method: string, body?: unknown, secret: string | null = c.cloud.controlPlaneIdentity.header) =>
  httpCall(`${c.cloud.url}${FAULT_ADMIN_PATH}`, {
    method,
    ca: c.cloud.caCertPem,
    headers: { 'content-type': 'application/json', ...(secret !== null ? { [FAULT_ADMIN_HEADER]: secret } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

describe('fault injection', () => {
  it('does not exist unless the twin was started with it', async () => {
    const res = await admin(plain, 'PUT', { throttleSeconds: 5, unavailableSeconds: 5 });
    expect(res.status).toBe(404);
    expect((await listGroups(plain)).status).toBe(200);
  });

  it('refuses callers without the admin secret and bad faults, and changes nothing', async () => {
    expect((await admin(t, 'PUT', { throttleSeconds: 5, unavailableSeconds: 5 }, null)).status).toBe(401);
    expect((await admin(t, 'PUT', { throttleSeconds: 5, unavailableSeconds: 5 }, 'x'.repeat(40))).status).toBe(401);
    const bad = await admin(t, 'PUT', { throttleSeconds: -1, unavailableSeconds: 5 });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).error).toEqual({ code: 'InvalidRequestContent', message: expect.stringContaining('throttleSeconds') });
    expect((await admin(t, 'PUT', { throttleSeconds: 0, unavailableSeconds: 0 })).status).toBe(400);
    expect((await admin(t, 'PUT', { throttleSeconds: 1, unavailableSeconds: 1, extra: true })).status).toBe(400);
    expect(JSON.parse((await admin(t, 'GET')).body)).toMatchObject({ active: false, phase: 'none' });
    expect((await listGroups(t)).status).toBe(200);
  });

  it('answers ARM requests 429 with Retry-After, then 503, then serves again; tokens keep coming', async () => {
    const set = await admin(t, 'PUT', { throttleSeconds: 2, unavailableSeconds: 2, retryAfterSeconds: 7 });
    expect(set.status).toBe(200);
    expect(JSON.parse(set.body)).toMatchObject({ active: true, phase: 'throttling' });

    const throttled = await listGroups(t); // also fetches a token: Entra is not affected
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('7');
    expect(throttled.headers['x-ms-error-code']).toBe('TooManyRequests');
    expect(JSON.parse(throttled.body).error.code).toBe('TooManyRequests');

    await sleep(2_200);
    const unavailable = await listGroups(t);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toBe('7');
    expect(JSON.parse(unavailable.body).error.code).toBe('ServiceUnavailable');

    await sleep(2_200);
    expect((await listGroups(t)).status).toBe(200);
    const status = JSON.parse((await admin(t, 'GET')).body) as { active: boolean; answered: { throttled: number; unavailable: number } };
    expect(status).toMatchObject({ active: false, answered: { throttled: 1, unavailable: 1 } });
  });

  it('ends on DELETE', async () => {
    await admin(t, 'PUT', { throttleSeconds: 0, unavailableSeconds: 600 });
    expect((await listGroups(t)).status).toBe(503);
    expect(JSON.parse((await admin(t, 'DELETE')).body)).toMatchObject({ active: false });
    expect((await listGroups(t)).status).toBe(200);
  });

  it('the official SDK waits out a short fault by its Retry-After and succeeds', async () => {
    const client = new ResourceManagementClient(t.credential, t.cloud.subscriptionId, {
      ...t.clientOptions,
      retryOptions: { maxRetries: 3 },
    });
    await admin(t, 'PUT', { throttleSeconds: 1, unavailableSeconds: 1, retryAfterSeconds: 1 });
    const started = Date.now();
    const group = await client.resourceGroups.createOrUpdate('rg-faults', { location: 'westeurope' });
    expect(group.name).toBe('rg-faults');
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const status = JSON.parse((await admin(t, 'GET')).body) as { answered: { throttled: number; unavailable: number } };
    expect(status.answered.throttled + status.answered.unavailable).toBeGreaterThanOrEqual(1);
  });
});
