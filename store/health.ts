// Whether the store answers: one trivial round trip, for readiness probes.
import type { SqlExecutor } from './database.js';

/** Resolves when the database answers a query; throws its error otherwise. */
export async function pingDatabase(db: SqlExecutor): Promise<void> {
  await db.query('SELECT 1');
}
