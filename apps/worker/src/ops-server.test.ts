// The worker's ops server with fakes of our own interfaces (the store's executor, the running
// worker): readiness names each failing check by code only, /healthz stays 200, /metrics carries
// the process registry and the fleet's gauges (hcs_fleet_stats_up 0 when the store fails), and
// anything else is refused.
import { afterEach, describe, expect, it } from 'vitest';
import type { SqlExecutor } from '../../../store/database.js';
import { startOpsServer, type RunningOpsServer } from './ops-server.js';

const healthyDb: SqlExecutor = {
  query: (async (sql: string) =>
    /count\(\*\) AS n FROM operations/.test(sql)
      ? { rows: [{ n: 3 }], rowCount: 1 }
      : /GROUP BY provisioning_state/.test(sql)
        ? { rows: [{ state: 'Succeeded', n: 2 }], rowCount: 1 }
        : /earliestServerCertificateExpiry/.test(sql)
          ? { rows: [{ cert: 7200, age: 60, ratio: 0.5 }], rowCount: 1 }
          : { rows: [{ '?column?': 1 }], rowCount: 1 }) as SqlExecutor['query'],
};
const brokenDb: SqlExecutor = {
  query: async () => {
    throw Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432 user=hcs'), { code: 'ECONNREFUSED' });
  },
};

let server: RunningOpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function get(path: string, method = 'GET') {
  const res = await fetch(`${server!.url}${path}`, { method });
  return { status: res.status, body: await res.text() };
}

describe('worker ops server', () => {
  it('is ready when the store, Temporal and the worker are, and serves the fleet gauges', async () => {
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      db: healthyDb,
      worker: { state: () => 'RUNNING', pingTemporal: async () => {} },
    });
    expect(await get('/healthz')).toEqual({ status: 200, body: '{"status":"ok"}' });
    const ready = await get('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toEqual({
      ready: true,
      checks: { database: { status: 'ok' }, temporal: { status: 'ok' }, worker: { status: 'ok' } },
    });
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('hcs_fleet_clusters{state="Succeeded"} 2');
    expect(metrics.body).toContain('hcs_fleet_earliest_certificate_expiry_seconds 7200');
    expect(metrics.body).toContain('hcs_fleet_scheduled_upgrades 3');
    expect(metrics.body).toContain('hcs_fleet_stats_up 1');
    expect(metrics.body).toContain('# TYPE hcs_operations_started_total counter');
  });

  it('is not ready, naming each failing check by code only, while it stays alive', async () => {
    const errors: string[] = [];
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      db: brokenDb,
      worker: {
        state: () => 'DRAINING',
        pingTemporal: async () => {
          throw Object.assign(new Error('14 UNAVAILABLE: temporal.internal:7233'), { code: 'UNAVAILABLE' });
        },
      },
      onError: (what) => errors.push(what),
    });
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toEqual({
      ready: false,
      checks: {
        database: { status: 'failing', reason: 'unreachable (ECONNREFUSED)' },
        temporal: { status: 'failing', reason: 'unreachable (UNAVAILABLE)' },
        worker: { status: 'failing', reason: 'worker is draining' },
      },
    });
    expect(ready.body).not.toMatch(/10\.1\.2\.3|user=|temporal\.internal/);
    expect(errors).toEqual(expect.arrayContaining(['readiness: database', 'readiness: temporal']));
    expect((await get('/healthz')).status).toBe(200);
    // The fleet cannot be read: the gauges are left out and say so.
    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toContain('hcs_fleet_stats_up 0');
    expect(metrics.body).not.toContain('hcs_fleet_clusters{');
  });

  it('times a probe out instead of hanging', async () => {
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      db: healthyDb,
      probeTimeoutMs: 200,
      worker: { state: () => 'RUNNING', pingTemporal: () => new Promise(() => {}) },
    });
    const ready = await get('/readyz');
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body).checks.temporal).toEqual({ status: 'failing', reason: 'unreachable (TIMEOUT)' });
  });

  it('answers nothing else', async () => {
    server = await startOpsServer({
      host: '127.0.0.1',
      port: 0,
      db: healthyDb,
      worker: { state: () => 'RUNNING', pingTemporal: async () => {} },
    });
    expect((await get('/clusters')).status).toBe(404);
    expect((await get('/metrics', 'POST')).status).toBe(405);
  });
});
