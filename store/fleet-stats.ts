// What the fleet's gauges show (apps/worker/src/fleet-metrics.ts), read on each scrape in two
// aggregate queries over the clusters table and one over the operations table. Only counts and
// times leave the database: no cluster's ids or names.
import { DEFAULT_SNAPSHOT_INTERVAL_HOURS } from '../domain/cluster-spec.js';
import type { SqlExecutor } from './database.js';

export interface FleetStats {
  /** Clusters by provisioningState. */
  clustersByState: Array<{ state: string; count: number }>;
  /** Seconds until the earliest server certificate of any cluster (but those being deleted) expires; negative once expired, null when none reports one. */
  earliestCertificateExpirySeconds: number | null;
  /** Age in seconds of the oldest last successful snapshot among clusters (but those being deleted) that have one. */
  oldestSnapshotAgeSeconds: number | null;
  /** The largest age of a cluster's last successful snapshot in units of its own snapshot interval (2: two intervals missed). */
  maxSnapshotAgeInIntervals: number | null;
  /** Upgrades recorded and waiting for their maintenance window (Scheduled). */
  scheduledUpgrades: number;
}

const num = (v: number | string | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));

export async function fleetStats(db: SqlExecutor): Promise<FleetStats> {
  const states = await db.query<{ state: string; n: number | string }>(
    `SELECT provisioning_state AS state, count(*) AS n FROM clusters GROUP BY provisioning_state ORDER BY provisioning_state`,
  );
  const times = await db.query<{ cert: number | string | null; age: number | string | null; ratio: number | string | null }>(
    `SELECT EXTRACT(EPOCH FROM (min((status->>'earliestServerCertificateExpiry')::timestamptz) - now())) AS cert,
            EXTRACT(EPOCH FROM (now() - min((status->>'lastSuccessfulSnapshotTime')::timestamptz))) AS age,
            max(EXTRACT(EPOCH FROM (now() - (status->>'lastSuccessfulSnapshotTime')::timestamptz))
                / (3600 * COALESCE((spec->'properties'->'snapshotPolicy'->>'intervalHours')::numeric, $1::numeric))) AS ratio
       FROM clusters WHERE provisioning_state <> 'Deleting'`,
    [DEFAULT_SNAPSHOT_INTERVAL_HOURS],
  );
  const upgrades = await db.query<{ n: number | string }>(
    `SELECT count(*) AS n FROM operations WHERE status = 'Scheduled' AND kind = 'upgrade'`,
  );
  const t = times.rows[0];
  return {
    clustersByState: states.rows.map((r) => ({ state: r.state, count: Number(r.n) })),
    earliestCertificateExpirySeconds: num(t?.cert),
    oldestSnapshotAgeSeconds: num(t?.age),
    maxSnapshotAgeInIntervals: num(t?.ratio),
    scheduledUpgrades: Number(upgrades.rows[0]?.n ?? 0),
  };
}
