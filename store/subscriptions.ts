// ARM subscription lifecycle state and received notifications.
import type { SqlExecutor } from './database.js';

export const SUBSCRIPTION_STATES = ['Registered', 'Unregistered', 'Warned', 'Suspended', 'Deleted'] as const;
export type SubscriptionState = (typeof SUBSCRIPTION_STATES)[number];

export interface SubscriptionRecord {
  subscriptionId: string;
  state: SubscriptionState;
  tenantId: string | null;
  properties: Record<string, unknown>;
  updatedAt: string;
}

export async function getSubscription(db: SqlExecutor, subscriptionId: string): Promise<SubscriptionRecord | undefined> {
  const { rows } = await db.query<{
    subscription_id: string;
    state: SubscriptionState;
    tenant_id: string | null;
    properties: Record<string, unknown>;
    updated_at: Date | string;
  }>('SELECT subscription_id, state, tenant_id, properties, updated_at FROM subscriptions WHERE subscription_id = $1', [
    subscriptionId.toLowerCase(),
  ]);
  const r = rows[0];
  return (
    r && {
      subscriptionId: r.subscription_id,
      state: r.state,
      tenantId: r.tenant_id,
      properties: r.properties,
      updatedAt: new Date(r.updated_at).toISOString(),
    }
  );
}

export async function putSubscription(
  db: SqlExecutor,
  s: { subscriptionId: string; state: SubscriptionState; tenantId: string | null; properties: Record<string, unknown> },
): Promise<void> {
  await db.query(
    `INSERT INTO subscriptions (subscription_id, state, tenant_id, properties) VALUES ($1, $2, $3, $4)
     ON CONFLICT (subscription_id) DO UPDATE SET state = EXCLUDED.state, tenant_id = EXCLUDED.tenant_id,
       properties = EXCLUDED.properties, updated_at = now()`,
    [s.subscriptionId.toLowerCase(), s.state, s.tenantId, s.properties],
  );
}

/** Records a notification once; returns false when the same notification was already seen. */
export async function recordNotification(
  db: SqlExecutor,
  n: { notificationId: string; kind: string; subscriptionId: string | null; body: unknown },
): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO notifications (notification_id, kind, subscription_id, body) VALUES ($1, $2, $3, $4) ON CONFLICT (notification_id) DO NOTHING`,
    [n.notificationId, n.kind, n.subscriptionId, n.body],
  );
  return rowCount > 0;
}
