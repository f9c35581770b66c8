// Health and readiness of the API on the real stack: /readyz answers 200 while the store and
// Temporal answer, and 503 naming the database once its PostgreSQL database stops accepting
// connections (the control plane runs on a database of this file's own, which the test closes
// to connections and then reopens); gRPC health follows readiness; /healthz stays 200 throughout.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { useControlPlane } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const run = promisify(execFile);
const REQUIRE_POSTGRES =
  'health.test.ts closes a PostgreSQL database to connections: it needs the machine PostgreSQL (PGlite cannot be made unreachable)';
const dbName = `hcs_health_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const adminUrl = stack.database.kind === 'postgres' ? stack.database.url : '';
const ownUrl = () => {
  const u = new URL(adminUrl);
  u.pathname = `/${dbName}`;
  return u.toString();
};
const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
};

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error(REQUIRE_POSTGRES);
  await admin((c) => c.query(`CREATE DATABASE ${dbName}`));
});
const cp = useControlPlane({ ...stack, database: { kind: 'postgres', url: ownUrl() } }, () => ({}), { requirePostgres: REQUIRE_POSTGRES });
afterAll(async () => {
  if (stack.database.kind !== 'postgres') return;
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
    await c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
  });
});

const get = async (path: string) => {
  const r = await httpCall(`${cp.api.restUrl}${path}`, { ca: cp.caCertPem, timeoutInMs: 10_000 });
  return { status: r.status, json: JSON.parse(r.body) as Record<string, unknown> };
};

/** The gRPC health service's answer for the whole server, asked by grpcurl (an independent client). */
async function grpcHealth(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-health-'));
  try {
    writeFileSync(join(dir, 'ca.pem'), cp.caCertPem);
    const { stdout } = await run(stack.tools.grpcurl, ['-cacert', join(dir, 'ca.pem'), cp.api.grpcAddress, 'grpc.health.v1.Health/Check'], {
      timeout: 30_000,
    });
    return (JSON.parse(stdout) as { status: string }).status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  let last: string | undefined;
  for (const end = Date.now() + timeoutMs; ;) {
    const v = await fn().catch((err: unknown) => void (last = err instanceof Error ? err.message : String(err)));
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (${last})` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it('is ready, on REST and gRPC, while the store and Temporal answer', async () => {
  expect(await get('/readyz')).toEqual({
    status: 200,
    json: { status: 'ready', checks: { database: { status: 'ok' }, temporal: { status: 'ok' } } },
  });
  expect(await until('gRPC health SERVING', async () => ((await grpcHealth()) === 'SERVING' ? true : undefined))).toBe(true);
});

it('answers 503 naming the database when the store stops accepting connections, gRPC NOT_SERVING, /healthz still 200; ready again after', async () => {
  await admin(async (c) => {
    await c.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
    await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [dbName]);
  });
  const down = await until('/readyz to fail', async () => {
    const r = await get('/readyz');
    return r.status === 503 ? r : undefined;
  });
  expect(down.json).toMatchObject({
    status: 'not ready',
    checks: {
      database: { status: 'failing', reason: expect.stringMatching(/^(unreachable \(\w+\)|no answer within \d+ ms)$/) },
      temporal: { status: 'ok' },
    },
  });
  // Nothing about the database beyond its state: not its name, host or user.
  expect(JSON.stringify(down.json)).not.toMatch(new RegExp(`${dbName}|postgres|127\\.0\\.0\\.1`));
  expect(await until('gRPC health NOT_SERVING', async () => ((await grpcHealth()) === 'NOT_SERVING' ? true : undefined))).toBe(true);
  expect(await get('/healthz')).toEqual({ status: 200, json: { status: 'ok' } });

  await admin((c) => c.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`));
  await until('/readyz to recover', async () => ((await get('/readyz')).status === 200 ? true : undefined));
  expect(await until('gRPC health SERVING again', async () => ((await grpcHealth()) === 'SERVING' ? true : undefined))).toBe(true);
});
