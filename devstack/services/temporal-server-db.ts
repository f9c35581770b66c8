// The production Temporal server's two PostgreSQL databases (`<prefix>` for persistence and
// `<prefix>_visibility`): created, set up and brought to the newest schema with the server's own
// SQL tool and the schemas embedded in it (postgresql/v12/...). Every step is idempotent, so a
// restart runs them again safely; a newer server release brings its schema updates this way.
// Tests drop both databases afterwards.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** A PostgreSQL server as the SQL tool and the Temporal server reach it. */
export interface PostgresServer {
  host: string;
  port: number;
  user: string;
  /** Only ever passed through the environment (SQL_PASSWORD, or the server's template), never on a command line. */
  password?: string;
  /** The database to connect to while creating or dropping others (the URL's path; default `postgres`). */
  adminDatabase: string;
}

export interface TemporalDatabases {
  main: string;
  visibility: string;
}

/** PostgreSQL's identifier limit, less the `_visibility` suffix. */
const MAX_PREFIX = 63 - '_visibility'.length;

/** Parses `postgres://user[:password]@host[:port][/database]`; the error names the URL's problem, never the password. */
export function parsePostgresUrl(url: string): PostgresServer {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('PostgreSQL server URL is not a URL (expected postgres://user[:password]@host[:port][/database])');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:')
    throw new Error(`PostgreSQL server URL must start with postgres:// (got ${u.protocol}//)`);
  if (!u.hostname) throw new Error('PostgreSQL server URL has no host');
  if (!u.username) throw new Error(`PostgreSQL server URL for ${u.hostname} names no user`);
  const port = u.port ? Number(u.port) : 5432;
  const adminDatabase = decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres';
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port,
    user: decodeURIComponent(u.username),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    adminDatabase,
  };
}

/** The two database names for a prefix; a bad prefix is refused before anything is created. */
export function temporalDatabaseNames(prefix: string): TemporalDatabases {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix))
    throw new Error(`Temporal database prefix "${prefix}" must be lower-case letters, digits and _ (starting with a letter or _)`);
  if (prefix.length > MAX_PREFIX) throw new Error(`Temporal database prefix "${prefix}" is longer than ${MAX_PREFIX} characters`);
  return { main: prefix, visibility: `${prefix}_visibility` };
}

/** Runs the SQL tool against one database; its output goes into the error when it fails. */
async function sqlTool(tool: string, server: PostgresServer, database: string, args: string[]): Promise<void> {
  const common = ['--ep', server.host, '-p', String(server.port), '-u', server.user, '--pl', 'postgres12', '--db', database];
  try {
    await run(tool, [...common, ...args], {
      env: { ...process.env, SQL_PASSWORD: server.password ?? '' },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`temporal-sql-tool ${args[0]} on database ${database} failed: ${output || e.message}`);
  }
}

/**
 * Creates both databases when missing, sets up the schema version tables (kept when present)
 * and updates each schema to the newest version the tool embeds.
 */
export async function prepareTemporalDatabases(o: {
  sqlTool: string;
  server: PostgresServer;
  databases: TemporalDatabases;
}): Promise<void> {
  const schemas: [string, string][] = [
    [o.databases.main, 'postgresql/v12/temporal'],
    [o.databases.visibility, 'postgresql/v12/visibility'],
  ];
  for (const [database, schemaName] of schemas) {
    await sqlTool(o.sqlTool, o.server, database, ['create-database', '--defaultdb', o.server.adminDatabase]);
    await sqlTool(o.sqlTool, o.server, database, ['setup-schema', '-v', '0.0']);
    await sqlTool(o.sqlTool, o.server, database, ['update-schema', '--schema-name', schemaName]);
  }
}

/** The schema version each database records (what update-schema brought it to). */
export async function temporalSchemaVersions(server: PostgresServer, databases: TemporalDatabases): Promise<TemporalDatabases> {
  const read = async (database: string) => {
    const c = new pg.Client({ ...clientOptions(server), database });
    await c.connect();
    try {
      const r = await c.query<{ curr_version: string }>('SELECT curr_version FROM schema_version');
      return r.rows[0]?.curr_version ?? '';
    } finally {
      await c.end();
    }
  };
  return { main: await read(databases.main), visibility: await read(databases.visibility) };
}

/** Drops both databases (connections still open are ended); missing ones are fine. */
export async function dropTemporalDatabases(server: PostgresServer, prefix: string): Promise<void> {
  const { main, visibility } = temporalDatabaseNames(prefix);
  const c = new pg.Client({ ...clientOptions(server), database: server.adminDatabase });
  await c.connect();
  try {
    for (const name of [main, visibility]) await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await c.end();
  }
}

function clientOptions(server: PostgresServer): pg.ClientConfig {
  return {
    host: server.host,
    port: server.port,
    user: server.user,
    ...(server.password ? { password: server.password } : {}),
    connectionTimeoutMillis: 5_000,
  };
}
