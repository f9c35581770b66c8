// Marketplace metering records (migrations/0011_metering.sql): the server hours of each cluster,
// plan and clock hour from cluster_usage that have no metering record yet, the records the
// worker writes once the Marketplace answered, and the monthly reconciliation of recorded usage
// against what was metered.
import { DIMENSION_SUFFIX, type MeteringPlan } from '../domain/metering.js';
import type { SqlExecutor } from './database.js';

export type MeteringStatus = 'Accepted' | 'Duplicate' | 'Expired' | 'Rejected';

/** The server hours of one cluster, plan and hour that are still to be reported. */
export interface UsageHour {
  resourceKey: string;
  subscriptionId: string;
  /** The hour's start (UTC). */
  hour: Date;
  planId: MeteringPlan;
  dimension: string;
  quantity: number;
  /** The subscription's state now (null: not registered here). */
  subscriptionState: string | null;
}

/** The plan of a cluster_usage period, as SQL (domain/metering.ts planOf). */
const PLAN_SQL = `CASE WHEN u.server_count = 1 THEN 'development' ELSE 'standard' END`;

/**
 * Every (cluster, plan, hour) with server hours in [from, to) (whole hours) and no metering
 * record, oldest first; `limit` caps the answer.
 */
export async function unsettledHours(
  db: SqlExecutor,
  a: { from: Date; to: Date; limit?: number; subscriptionId?: string },
): Promise<UsageHour[]> {
  const { rows } = await db.query<{
    resource_id: string;
    subscription_id: string;
    hour: Date | string;
    plan_id: MeteringPlan;
    quantity: string | number;
    state: string | null;
  }>(
    `WITH hours AS (
       SELECT generate_series($1::timestamptz, $2::timestamptz - interval '1 hour', interval '1 hour') AS hour
     ), usage AS (
       SELECT u.resource_id, u.subscription_id, h.hour, ${PLAN_SQL} AS plan_id,
              sum(u.server_count * extract(epoch FROM (least(coalesce(u.ended_at, h.hour + interval '1 hour'), h.hour + interval '1 hour')
                                                       - greatest(u.started_at, h.hour))) / 3600.0) AS quantity
         FROM cluster_usage u
         JOIN hours h ON ($5::text IS NULL OR u.subscription_id = $5) AND u.started_at < h.hour + interval '1 hour' AND coalesce(u.ended_at, h.hour + interval '1 hour') > h.hour
        GROUP BY 1, 2, 3, 4
     )
     SELECT usage.resource_id, usage.subscription_id, usage.hour, usage.plan_id, usage.quantity, s.state
       FROM usage LEFT JOIN subscriptions s ON s.subscription_id = usage.subscription_id
      WHERE usage.quantity > 0
        AND NOT EXISTS (SELECT 1 FROM metering_events m
                         WHERE m.resource_id = usage.resource_id AND m.dimension = usage.plan_id || $3 AND m.hour = usage.hour)
      ORDER BY usage.hour, usage.resource_id, usage.plan_id
      LIMIT $4`,
    [a.from, a.to, DIMENSION_SUFFIX, a.limit ?? 100_000, a.subscriptionId?.toLowerCase() ?? null],
  );
  return rows.map((r) => ({
    resourceKey: r.resource_id,
    subscriptionId: r.subscription_id,
    hour: new Date(r.hour),
    planId: r.plan_id,
    dimension: `${r.plan_id}${DIMENSION_SUFFIX}`,
    quantity: Number(r.quantity),
    subscriptionState: r.state,
  }));
}

export interface MeteringRecord {
  resourceKey: string;
  subscriptionId: string;
  hour: Date;
  planId: string;
  dimension: string;
  quantity: number;
  status: MeteringStatus;
  usageEventId?: string;
  detail?: string;
}

/** Records the Marketplace's answer for a key once; a key already recorded keeps its first record. */
export async function recordMetering(db: SqlExecutor, r: MeteringRecord): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO metering_events (resource_id, dimension, hour, subscription_id, plan_id, quantity, status, usage_event_id, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
    [r.resourceKey, r.dimension, r.hour, r.subscriptionId, r.planId, r.quantity, r.status, r.usageEventId ?? null, r.detail ?? null],
  );
  return rowCount > 0;
}

/** The metering records of a cluster, oldest hour first (tests and support). */
export async function meteringRecords(db: SqlExecutor, resourceKey: string): Promise<MeteringRecord[]> {
  const { rows } = await db.query<{
    resource_id: string;
    subscription_id: string;
    hour: Date | string;
    plan_id: string;
    dimension: string;
    quantity: number;
    status: MeteringStatus;
    usage_event_id: string | null;
    detail: string | null;
  }>('SELECT * FROM metering_events WHERE resource_id = $1 ORDER BY hour, dimension', [resourceKey]);
  return rows.map((r) => ({
    resourceKey: r.resource_id,
    subscriptionId: r.subscription_id,
    hour: new Date(r.hour),
    planId: r.plan_id,
    dimension: r.dimension,
    quantity: Number(r.quantity),
    status: r.status,
    ...(r.usage_event_id ? { usageEventId: r.usage_event_id } : {}),
    ...(r.detail ? { detail: r.detail } : {}),
  }));
}

/** One line of the monthly reconciliation: a cluster and dimension. */
export interface ReconciliationLine {
  resourceKey: string;
  subscriptionId: string;
  dimension: string;
  /** Server hours in cluster_usage (up to `to`). */
  recordedHours: number;
  /** Hours the Marketplace accepted (Accepted or Duplicate). */
  meteredHours: number;
  expiredHours: number;
  rejectedHours: number;
}

/** Recorded against metered server hours per cluster and dimension for hours in [from, to). */
export async function meteringReconciliation(
  db: SqlExecutor,
  a: { from: Date; to: Date; subscriptionId?: string },
): Promise<ReconciliationLine[]> {
  const { rows } = await db.query<{
    resource_id: string;
    subscription_id: string;
    dimension: string;
    recorded: string | number | null;
    metered: string | number | null;
    expired: string | number | null;
    rejected: string | number | null;
  }>(
    `WITH recorded AS (
       SELECT u.resource_id, u.subscription_id, ${PLAN_SQL} || $3 AS dimension,
              sum(u.server_count * extract(epoch FROM (least(coalesce(u.ended_at, $2), $2) - greatest(u.started_at, $1))) / 3600.0) AS hours
         FROM cluster_usage u
        WHERE u.started_at < $2 AND coalesce(u.ended_at, $2) > $1
        GROUP BY 1, 2, 3
     ), metered AS (
       SELECT resource_id, subscription_id, dimension,
              sum(quantity) FILTER (WHERE status IN ('Accepted', 'Duplicate')) AS metered,
              sum(quantity) FILTER (WHERE status = 'Expired') AS expired,
              sum(quantity) FILTER (WHERE status = 'Rejected') AS rejected
         FROM metering_events WHERE hour >= $1 AND hour < $2
        GROUP BY 1, 2, 3
     )
     SELECT coalesce(r.resource_id, m.resource_id) AS resource_id, coalesce(r.subscription_id, m.subscription_id) AS subscription_id,
            coalesce(r.dimension, m.dimension) AS dimension, r.hours AS recorded, m.metered, m.expired, m.rejected
       FROM recorded r FULL OUTER JOIN metered m ON m.resource_id = r.resource_id AND m.dimension = r.dimension
      WHERE $4::text IS NULL OR coalesce(r.subscription_id, m.subscription_id) = $4
      ORDER BY 2, 1, 3`,
    [a.from, a.to, DIMENSION_SUFFIX, a.subscriptionId?.toLowerCase() ?? null],
  );
  return rows.map((r) => ({
    resourceKey: r.resource_id,
    subscriptionId: r.subscription_id,
    dimension: r.dimension,
    recordedHours: Number(r.recorded ?? 0),
    meteredHours: Number(r.metered ?? 0),
    expiredHours: Number(r.expired ?? 0),
    rejectedHours: Number(r.rejected ?? 0),
  }));
}
