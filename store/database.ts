// The store's one SQL seam. PostgreSQL in production and CI; PGlite (PostgreSQL compiled to
// WebAssembly, same SQL dialect) as the embedded default so `npm start` needs no server.
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

export interface SqlResult<Row> {
  rows: Row[];
  rowCount: number;
}

export interface QueryOptions {
  /**
   * Prepare the statement once per connection under this name and only bind and execute it
   * afterwards (PostgreSQL; PGlite ignores it): for the hottest reads. The SQL of a name never changes.
   */
  name?: string;
}

export interface SqlExecutor {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[], options?: QueryOptions): Promise<SqlResult<Row>>;
}

export interface SqlDatabase extends SqlExecutor {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction; rolls back when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Runs a multi-statement script (migrations). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

export type DatabaseConfig = { kind: 'postgres'; url: string } | { kind: 'pglite'; dataDir: string };

export async function openDatabase(config: DatabaseConfig): Promise<SqlDatabase> {
  return config.kind === 'postgres' ? openPostgres(config.url) : openPGlite(config.dataDir);
}

function openPostgres(url: string): SqlDatabase {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  // An idle client that loses its connection must not crash the process.
  pool.on('error', () => {});
  const asResult = <Row>(r: pg.QueryResult): SqlResult<Row> => ({ rows: r.rows as Row[], rowCount: r.rowCount ?? 0 });
  return {
    kind: 'postgres',
    async query<Row>(sql: string, params: unknown[] = [], options?: QueryOptions) {
      return asResult<Row>(await (options?.name ? pool.query({ name: options.name, text: sql, values: params }) : pool.query(sql, params)));
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await fn({
          query: async <Row>(sql: string, params: unknown[] = [], options?: QueryOptions) =>
            asResult<Row>(
              await (options?.name ? client.query({ name: options.name, text: sql, values: params }) : client.query(sql, params)),
            ),
        });
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    close: () => pool.end(),
  };
}

async function openPGlite(dataDir: string): Promise<SqlDatabase> {
  const db = await PGlite.create(dataDir);
  const asResult = <Row>(r: { rows: unknown[]; affectedRows?: number }): SqlResult<Row> => ({
    rows: r.rows as Row[],
    // PGlite reports affectedRows = 0 for SELECT; count returned rows as pg does.
    rowCount: Math.max(r.rows.length, r.affectedRows ?? 0),
  });
  return {
    kind: 'pglite',
    async query<Row>(sql: string, params: unknown[] = []) {
      return asResult<Row>(await db.query(sql, params));
    },
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      return db.transaction((tx) =>
        fn({ query: async <Row>(sql: string, params: unknown[] = []) => asResult<Row>(await tx.query(sql, params)) }),
      );
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    close: () => db.close(),
  };
}

/** PostgreSQL's unique_violation (SQLSTATE 23505), from pg and PGlite alike. */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}
