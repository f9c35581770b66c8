// The worker's ops HTTP server, for Prometheus and the scheduler's health checks (loopback by
// default; a Nomad job binds it to the allocation's address):
//   GET /metrics  this process's registry (lib/metrics.ts), the fleet's gauges (fleet-metrics.ts)
//                 and the Temporal SDK's own metrics, fetched from the runtime's loopback endpoint
//                 (lib/temporal-runtime.ts) so one scrape target covers the worker
//   GET /healthz  the process is alive
//   GET /readyz   the store and Temporal answer and the Worker is running (polling its task queue);
//                 503 naming what fails, by dependency and error code only
// Nothing here names a tenant: metric labels hold states, kinds and codes; it has no other routes.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { metricsRegistry } from '../../../lib/metrics.js';
import type { SqlExecutor } from '../../../store/database.js';
import { pingDatabase } from '../../../store/health.js';
import { fleetMetrics } from './fleet-metrics.js';

export interface OpsServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  db: SqlExecutor;
  /** The running worker: its state (RUNNING while it polls) and a round trip to Temporal on its connection. */
  worker: { state(): string; pingTemporal(timeoutMs: number): Promise<void> };
  /** host:port of the Temporal runtime's Prometheus endpoint, merged into /metrics; none when absent. */
  temporalMetricsAddress?: string;
  /** Each readiness probe's deadline (default 2 s). */
  probeTimeoutMs?: number;
  /** Told why a probe or a metrics source failed (the answer carries no message). */
  onError?: (what: string, err: unknown) => void;
}

export interface RunningOpsServer {
  url: string;
  close(): Promise<void>;
}

type Check = { status: 'ok' } | { status: 'failing'; reason: string };

export async function startOpsServer(o: OpsServerOptions): Promise<RunningOpsServer> {
  const timeoutMs = o.probeTimeoutMs ?? 2_000;
  const onError = o.onError ?? (() => undefined);
  const fleet = fleetMetrics(o.db, (err) => onError('fleet metrics', err));

  const probe = async (what: string, fn: () => Promise<void>): Promise<Check> => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        fn(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'TIMEOUT' })), timeoutMs);
        }),
      ]);
      return { status: 'ok' };
    } catch (err) {
      onError(`readiness: ${what}`, err);
      const code = (err as { code?: unknown } | null)?.code;
      const kind = typeof code === 'string' && /^[A-Za-z0-9_.-]{1,40}$/.test(code) ? code : (err as Error | null)?.name || 'error';
      return { status: 'failing', reason: `unreachable (${kind})` };
    } finally {
      clearTimeout(timer);
    }
  };

  const temporalMetrics = async (): Promise<string> => {
    if (!o.temporalMetricsAddress) return '';
    try {
      const res = await fetch(`http://${o.temporalMetricsAddress}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
      if (!res.ok) throw new Error(`the Temporal runtime's metrics answered ${res.status}`);
      return await res.text();
    } catch (err) {
      onError('Temporal SDK metrics', err);
      return '';
    }
  };

  const routes: Record<string, (res: ServerResponse) => Promise<void>> = {
    '/healthz': async (res) => send(res, 200, 'application/json', JSON.stringify({ status: 'ok' })),
    '/readyz': async (res) => {
      const [database, temporal] = await Promise.all([
        probe('database', () => pingDatabase(o.db)),
        probe('temporal', () => o.worker.pingTemporal(timeoutMs)),
      ]);
      const state = o.worker.state();
      const worker: Check = state === 'RUNNING' ? { status: 'ok' } : { status: 'failing', reason: `worker is ${state.toLowerCase()}` };
      const checks = { database, temporal, worker };
      const ready = Object.values(checks).every((c) => c.status === 'ok');
      send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ ready, checks }));
    },
    '/metrics': async (res) => {
      const parts = await Promise.all([metricsRegistry.metrics(), fleet.metrics(), temporalMetrics()]);
      send(res, 200, metricsRegistry.contentType, parts.filter((p) => p).join('\n'));
    },
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[path];
    if (!route)
      return send(res, 404, 'application/json', JSON.stringify({ error: `no ops route ${req.method ?? ''} ${path.slice(0, 100)}` }));
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'application/json', JSON.stringify({ error: 'only GET' }));
    route(res).catch((err: unknown) => {
      onError(path, err);
      if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ error: 'internal error' }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: o.host, port: o.port }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${o.host.includes(':') ? `[${o.host}]` : o.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A free TCP port on 127.0.0.1 (for the Temporal runtime's metrics endpoint, which cannot report the one it binds). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
}
