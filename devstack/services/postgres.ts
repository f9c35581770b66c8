// A private PostgreSQL cluster for runs that must restart the store's server (chaos runs): the
// machine's shared server is never restarted. Built from Debian's PostgreSQL binaries
// (/usr/lib/postgresql/<version>/bin): initdb once into the data folder, then `postgres` on
// 127.0.0.1 and a free port, trust authentication for the `postgres` role on loopback only.
// PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user (setpriv).
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, type Supervisor } from '../supervisor.js';

const DEBIAN_ROOT = '/usr/lib/postgresql';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  serverUrl: string;
}

/** The newest installed Debian PostgreSQL bin folder with initdb and postgres, or undefined. */
export function postgresBinDir(): string | undefined {
  if (!existsSync(DEBIAN_ROOT)) return undefined;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  for (const v of versions) {
    const bin = join(DEBIAN_ROOT, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  return undefined;
}

/** uid/gid of the `postgres` system user when we are root (PostgreSQL will not run as root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

function asUser(user: { uid: number; gid: number } | undefined, command: string, args: string[]): [string, string[]] {
  if (!user) return [command, args];
  return ['setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--', command, ...args]];
}

export async function startPrivatePostgres(sup: Supervisor, o: { dataDir: string }): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`no PostgreSQL server binaries under ${DEBIAN_ROOT} (Debian package postgresql)`);
  const user = runAs();
  const pgdata = join(o.dataDir, 'pgdata');
  const sockets = join(o.dataDir, 'sockets');
  mkdirSync(o.dataDir, { recursive: true });
  mkdirSync(sockets, { recursive: true, mode: 0o700 });
  if (user) chownSync(sockets, user.uid, user.gid);
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    mkdirSync(pgdata, { recursive: true, mode: 0o700 });
    if (user) chownSync(pgdata, user.uid, user.gid);
    const [cmd, args] = asUser(user, join(bin, 'initdb'), [
      '-D',
      pgdata,
      '-U',
      'postgres',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    execFileSync(cmd, args, { stdio: 'pipe' });
  }
  return sup.startOnFreePorts(async () => {
    const port = await freePort();
    const serverUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const [cmd, args] = asUser(user, join(bin, 'postgres'), [
      '-D',
      pgdata,
      '-p',
      String(port),
      '-k',
      sockets,
      '-c',
      'listen_addresses=127.0.0.1',
      // Scratch data: a crash may lose it, a clean stop (fast shutdown) never does.
      '-c',
      'fsync=off',
      '-c',
      'max_connections=200',
    ]);
    return {
      value: { serverUrl },
      spec: {
        name: 'postgres',
        command: cmd,
        args,
        // SIGINT is PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
        stopSignal: 'SIGINT',
        stopTimeoutMs: 20_000,
        probe: async () => {
          const c = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 1_000 });
          await c.connect();
          try {
            await c.query('SELECT 1');
          } finally {
            await c.end();
          }
        },
      },
    };
  });
}
