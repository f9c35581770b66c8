// Chaos runs stop and start one service of a running stack: the private PostgreSQL cluster and
// OpenBao on file storage come back on the same port with their data (OpenBao unsealed by its
// readiness probe), and clients simply reconnect.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { httpCall } from '../lib/http.js';
import { toolPaths } from '../scripts/toolchain.mjs';
import { startOpenBao } from './services/openbao.js';
import { startPrivatePostgres } from './services/postgres.js';
import { Supervisor } from './supervisor.js';

let dir: string;
let sup: Supervisor;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hcs-restart-'));
  chmodSync(dir, 0o755); // PostgreSQL runs as the postgres user when we are root
  sup = new Supervisor({ stateDir: join(dir, 'supervisor') });
});
afterAll(async () => {
  await sup?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('the private PostgreSQL comes back on its port with its data', async () => {
  const { serverUrl } = await startPrivatePostgres(sup, { dataDir: join(dir, 'postgres') });
  const pool = new pg.Pool({ connectionString: serverUrl });
  pool.on('error', () => {});
  try {
    await pool.query('CREATE TABLE kept (v text)');
    await pool.query("INSERT INTO kept VALUES ('before')");
    const spec = await sup.stopService('postgres');
    await expect(pool.query('SELECT 1')).rejects.toThrow();
    await sup.start(spec);
    expect((await pool.query<{ v: string }>('SELECT v FROM kept')).rows).toEqual([{ v: 'before' }]);
  } finally {
    await pool.end();
  }
});

it('OpenBao on file storage comes back unsealed with its keys', async () => {
  const vault = await startOpenBao(sup, { binary: toolPaths().bao, dataDir: join(dir, 'openbao'), persistent: true });
  const call = (method: string, path: string, body?: unknown) =>
    httpCall(`${vault.address}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': vault.token },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  expect([200, 204]).toContain((await call('POST', 'transit/keys/restart-test')).status);
  const sealed = JSON.parse((await call('POST', 'transit/encrypt/restart-test', { plaintext: btoa('kept') })).body) as {
    data: { ciphertext: string };
  };
  const spec = await sup.stopService('openbao');
  await expect(call('GET', 'sys/health')).rejects.toThrow();
  await sup.start(spec);
  const health = JSON.parse((await call('GET', 'sys/health')).body) as { sealed: boolean };
  expect(health.sealed).toBe(false);
  const opened = JSON.parse((await call('POST', 'transit/decrypt/restart-test', { ciphertext: sealed.data.ciphertext })).body) as {
    data: { plaintext: string };
  };
  expect(atob(opened.data.plaintext)).toBe('kept');
});
