// Metering of server hours (see migrations/0004_usage.sql): workflows record the server count
// whenever it changes; the API sums the hours of the current month for getBillingInfo.
import type { SqlExecutor } from './database.js';

/** Records that the cluster now runs `serverCount` servers (0: none, after delete). Idempotent. */
export async function recordServerCount(
  db: SqlExecutor,
  resourceKey: string,
  subscriptionId: string,
  serverCount: number,
  at: Date,
): Promise<void> {
  const open = await db.query<{ server_count: number }>(
    'SELECT server_count FROM cluster_usage WHERE resource_id = $1 AND ended_at IS NULL',
    [resourceKey],
  );
  if (open.rows[0]?.server_count === serverCount) return;
  await db.query('UPDATE cluster_usage SET ended_at = $2 WHERE resource_id = $1 AND ended_at IS NULL', [resourceKey, at]);
  if (serverCount > 0)
    await db.query(
      'INSERT INTO cluster_usage (resource_id, subscription_id, server_count, started_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [resourceKey, subscriptionId.toLowerCase(), serverCount, at],
    );
}

/** Server hours between `from` and `to` (periods clipped to that range). */
export async function serverHours(db: SqlExecutor, resourceKey: string, from: Date, to: Date): Promise<number> {
  const res = await db.query<{ hours: string | number | null }>(
    `SELECT sum(server_count * extract(epoch FROM (least(coalesce(ended_at, $3), $3) - greatest(started_at, $2))) / 3600.0) AS hours
     FROM cluster_usage WHERE resource_id = $1 AND started_at < $3 AND coalesce(ended_at, $3) > $2`,
    [resourceKey, from, to],
  );
  return Number(res.rows[0]?.hours ?? 0);
}
