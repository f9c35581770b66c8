// The clusters the server health check looks at (activities/server-health.ts): every cluster with
// recorded servers that is not being deleted, in key order, optionally within one subscription.
import type { SqlExecutor } from './database.js';

export async function serverHealthCandidates(db: SqlExecutor, subscriptionId?: string): Promise<string[]> {
  const params: unknown[] = [];
  let where = `jsonb_array_length(servers) > 0 AND provisioning_state <> 'Deleting'`;
  if (subscriptionId !== undefined) {
    params.push(subscriptionId.toLowerCase());
    where += ` AND lower(subscription_id) = $1`;
  }
  const { rows } = await db.query<{ resource_id: string }>(`SELECT resource_id FROM clusters WHERE ${where} ORDER BY resource_id`, params);
  return rows.map((r) => r.resource_id);
}
