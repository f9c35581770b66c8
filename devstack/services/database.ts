// Chooses the store database: an explicit HCS_DATABASE_URL, else the machine's PostgreSQL when
// reachable (a database of its own is created), else PGlite in a folder.
import pg from 'pg';
import type { DatabaseConfig } from '../../store/database.js';

export interface ResolveDatabaseOptions {
  /** Database name to create and use on PostgreSQL. */
  name: string;
  /** PGlite data folder when PostgreSQL is not used. */
  pgliteDir: string;
  /** auto: PostgreSQL when reachable; pglite: always embedded. */
  prefer: 'auto' | 'pglite';
  /** Server URL to probe (default postgres://127.0.0.1:5432/postgres as the current user, then postgres). */
  serverUrls?: string[];
}

export interface ResolvedDatabase {
  config: DatabaseConfig;
  /** Drops the created database (tests); no-op for PGlite and explicit URLs. */
  drop: () => Promise<void>;
}

const defaultServerUrls = () => {
  const users = [...new Set([process.env.PGUSER, process.env.USER, 'postgres'].filter(Boolean))];
  return users.map((u) => `postgres://${encodeURIComponent(u!)}@127.0.0.1:5432/postgres`);
};

export async function resolveDatabase(options: ResolveDatabaseOptions): Promise<ResolvedDatabase> {
  const noop = async () => {};
  if (process.env.HCS_DATABASE_URL) return { config: { kind: 'postgres', url: process.env.HCS_DATABASE_URL }, drop: noop };
  if (options.prefer === 'auto') {
    if (!/^[a-z_][a-z0-9_]*$/.test(options.name)) throw new Error(`invalid database name "${options.name}"`);
    for (const serverUrl of options.serverUrls ?? defaultServerUrls()) {
      const admin = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 1_500 });
      try {
        await admin.connect();
      } catch {
        continue;
      }
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [options.name]);
        if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${options.name}`);
      } finally {
        await admin.end();
      }
      const url = new URL(serverUrl);
      url.pathname = `/${options.name}`;
      return {
        config: { kind: 'postgres', url: url.toString() },
        drop: async () => {
          const c = new pg.Client({ connectionString: serverUrl });
          await c.connect();
          try {
            await c.query(`DROP DATABASE IF EXISTS ${options.name} WITH (FORCE)`);
          } finally {
            await c.end();
          }
        },
      };
    }
  }
  return { config: { kind: 'pglite', dataDir: options.pgliteDir }, drop: noop };
}
