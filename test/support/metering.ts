// Shared by the metering tests: the twin's metering API (its test-only clock, outage and list of
// accepted events), usage periods written straight into cluster_usage, and subscriptions.
import { randomUUID } from 'node:crypto';
import { FAULT_ADMIN_HEADER } from '../../apps/local-cloud/src/faults.js';
import type { AcceptedMessage } from '../../apps/local-cloud/src/metering.js';
import { METERING_ADMIN_PATH } from '../../apps/local-cloud/src/metering-routes.js';
import type { TestCloud } from '../../apps/local-cloud/src/testing.js';
import { httpCall } from '../../lib/http.js';
import type { SqlExecutor } from '../../store/database.js';
import { putSubscription, type SubscriptionState } from '../../store/subscriptions.js';

export const HOUR = 3_600_000;
export const iso = (ms: number) => new Date(ms).toISOString();

/** A subscription of the test's own in `state`. */
export async function newSubscription(db: SqlExecutor, state: SubscriptionState = 'Registered'): Promise<string> {
  const subscriptionId = randomUUID();
  await putSubscription(db, { subscriptionId, state, tenantId: null, properties: {} });
  return subscriptionId;
}

export const clusterKey = (sub: string, name: string) =>
  `/subscriptions/${sub}/resourcegroups/rg-meter/providers/hcs.consul/clusters/${name}`;

/** A period in which the cluster ran `servers` servers (open when `toMs` is absent). */
export async function usagePeriod(db: SqlExecutor, key: string, servers: number, fromMs: number, toMs?: number): Promise<void> {
  const sub = key.split('/')[2]!;
  await db.query(
    'INSERT INTO cluster_usage (resource_id, subscription_id, server_count, started_at, ended_at) VALUES ($1, $2, $3, $4, $5)',
    [key, sub, servers, new Date(fromMs), toMs === undefined ? null : new Date(toMs)],
  );
}

/** The twin's metering controls (faults.ts's admin secret). */
export async function meteringControl(
  twin: TestCloud,
  method: 'GET' | 'PUT' | 'DELETE',
  body?: { now?: string; unavailableSeconds?: number },
): Promise<{ now: string; unavailableUntil?: string; answeredUnavailable: number; events: AcceptedMessage[] }> {
  const res = await httpCall(`${twin.cloud.url}${METERING_ADMIN_PATH}`, {
    method,
    ca: twin.cloud.caCertPem,
    headers: { [FAULT_ADMIN_HEADER]: twin.cloud.controlPlaneIdentity.header },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status !== 200) throw new Error(`metering control ${method}: HTTP ${res.status} ${res.body}`);
  return JSON.parse(res.body) as Awaited<ReturnType<typeof meteringControl>>;
}

/** The events the twin accepted for a subscription's clusters. */
export async function acceptedEvents(twin: TestCloud, sub: string): Promise<AcceptedMessage[]> {
  const all = (await meteringControl(twin, 'GET')).events;
  return all.filter((e) => (e.resourceUri ?? '').startsWith(`/subscriptions/${sub}/`));
}

/** Each accepted event's key; the same key twice would be a double charge. */
export const eventKeys = (events: AcceptedMessage[]) =>
  events.map((e) => `${e.resourceUri}|${e.dimension}|${Date.parse(e.effectiveStartTime)}`);
