// Counts behind the per-subscription and per-cluster quotas (apps/api/src/service/quotas.ts),
// read inside the transaction that would add one more, under a lock, so concurrent requests
// cannot both take the last slot.
import type { SqlExecutor } from './database.js';

const QUOTA_LOCK_CLASS = 7_140_223; // arbitrary, constant: "hcs subscription quota"

/**
 * Serialises cluster creation in one subscription until the transaction ends. An advisory lock
 * rather than the subscriptions row: it works the same whether or not the row exists.
 */
export async function lockSubscriptionQuota(tx: SqlExecutor, subscriptionId: string): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [QUOTA_LOCK_CLASS, subscriptionId.toLowerCase()]);
}

/**
 * In one round trip, what a new cluster (`resourceKey`, whose own row is not counted) needs from
 * its subscription: how many other cluster records it has, whatever their state (a cluster being
 * deleted still counts), and those whose network range overlaps `cidr` (a valid IPv4 CIDR).
 */
export async function subscriptionRoom(
  tx: SqlExecutor,
  subscriptionId: string,
  cidr: string,
  resourceKey: string,
): Promise<{ clusters: number; overlapping: Array<{ resourceId: string; cidr: string }> }> {
  const { rows } = await tx.query<{ n: string | number; overlapping: Array<{ resourceId: string; cidr: string }> }>(
    `SELECT count(*) AS n,
            coalesce(json_agg(json_build_object('resourceId', display_id, 'cidr', spec->'properties'->'network'->>'cidr'))
              FILTER (WHERE (spec->'properties'->'network'->>'cidr')::inet && $2::inet), '[]') AS overlapping
       FROM clusters WHERE lower(subscription_id) = $1 AND resource_id <> $3`,
    [subscriptionId.toLowerCase(), cidr, resourceKey],
  );
  return { clusters: Number(rows[0]?.n ?? 0), overlapping: rows[0]?.overlapping ?? [] };
}

/** Every cluster record of the subscription, whatever its state (a cluster being deleted still counts). */
export async function countClusters(tx: SqlExecutor, subscriptionId: string): Promise<number> {
  const { rows } = await tx.query<{ n: string | number }>('SELECT count(*) AS n FROM clusters WHERE lower(subscription_id) = $1', [
    subscriptionId.toLowerCase(),
  ]);
  return Number(rows[0]?.n ?? 0);
}

/** The cluster's snapshot records of one kind, in any state. */
export async function countSnapshots(tx: SqlExecutor, resourceKey: string, kind: 'MANUAL' | 'AUTOMATIC'): Promise<number> {
  const { rows } = await tx.query<{ n: string | number }>('SELECT count(*) AS n FROM snapshots WHERE resource_id = $1 AND kind = $2', [
    resourceKey,
    kind,
  ]);
  return Number(rows[0]?.n ?? 0);
}
