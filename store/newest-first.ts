// Keyset paging of a cluster's rows newest first (operations, snapshots): ordered by a time
// column and the row id, resumed after a position that names both. The time goes out as whole
// microseconds since the epoch, PostgreSQL's own precision, so no row is skipped or repeated
// between pages the way a millisecond JavaScript Date would.
import type { SqlExecutor } from './database.js';

/** Where the next page starts: the last row's time (microseconds, as text) and id. */
export interface NewestFirstPosition {
  micros: string;
  id: string;
}

export interface NewestFirstQuery {
  table: 'operations' | 'snapshots';
  columns: string;
  timeColumn: 'started_at' | 'requested_at';
  idColumn: 'operation_id' | 'snapshot_id';
  resourceKey: string;
  limit: number;
  after?: NewestFirstPosition;
}

export async function newestFirstPage<Row extends object>(
  db: SqlExecutor,
  q: NewestFirstQuery,
): Promise<{ rows: Row[]; next?: NewestFirstPosition }> {
  if (q.after && !/^\d{1,20}$/.test(q.after.micros)) throw new Error(`page position ${q.after.micros} is not a microsecond count`);
  const position = q.after
    ? ` AND (${q.timeColumn}, ${q.idColumn}) < (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4)`
    : '';
  const params: unknown[] = [q.resourceKey, q.limit + 1, ...(q.after ? [q.after.micros, q.after.id] : [])];
  const { rows } = await db.query<Row & { page_micros: string }>(
    `SELECT ${q.columns}, (extract(epoch FROM ${q.timeColumn}) * 1000000)::bigint::text AS page_micros
     FROM ${q.table} WHERE resource_id = $1${position}
     ORDER BY ${q.timeColumn} DESC, ${q.idColumn} DESC LIMIT $2`,
    params,
  );
  const page = rows.slice(0, q.limit);
  const last = page.at(-1);
  if (rows.length <= q.limit || !last) return { rows: page };
  return { rows: page, next: { micros: last.page_micros, id: String((last as Record<string, unknown>)[q.idColumn]) } };
}
