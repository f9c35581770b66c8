// The HA topology on one machine (`npm run start:ha` and the HA end-to-end run): the stack of
// stack.ts with the production Temporal server (PostgreSQL persistence, mutual TLS), the store on
// the machine's PostgreSQL, API replicas and workers as separate processes run with plain node
// from the build output (dist/), and HAProxy in front of the API replicas. Every process runs
// under the stack's supervisor; a replica can be SIGKILLed (its whole process group, as a crashed
// allocation) and started again with the same ports and settings.
import { Connection } from '@temporalio/client';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { httpCall } from '../lib/http.js';
import { signalGroup } from '../lib/process-groups.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../lib/temporal-connection.js';
import { CONTROL_PLANE_TASK_QUEUE } from '../contract/temporal.js';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { repoRoot } from '../scripts/toolchain.mjs';
import { localControlPlaneSettings } from './control-plane-settings.js';
import { startHaproxy, type LoadBalancerEndpoint } from './services/haproxy.js';
import { temporalServerConnection } from './services/temporal-server.js';
import { startStack, type Stack, type StackEndpoints } from './stack.js';
import type { PortTaker, ProcessSpec, RunningProcess, Supervisor } from './supervisor.js';

export interface HaStackOptions {
  /** State folder (kept for `npm run start:ha`, per run for the end-to-end run). */
  dataDir: string;
  persistent: boolean;
  /** The store's database on the machine's PostgreSQL. */
  databaseName: string;
  /** Prefix of the Temporal server's two databases (persistence and visibility). */
  temporalDatabasePrefix: string;
  apiReplicas?: number;
  workers?: number;
  /** The Temporal server: the production one (default), or the dev server (the processes' topology without the server's build). */
  temporalServer?: 'production' | 'dev';
  /** The build output (default dist/ in the repository). */
  distDir?: string;
  onEvent?: (message: string) => void;
}

/** One API replica or worker process under the supervisor. */
export interface Replica {
  name: string;
  kind: 'api' | 'worker';
  /** The running process (its pid is its process group). */
  process(): RunningProcess;
  /** SIGKILL to its whole process group (terraform children included); resolves once it exited. */
  kill(): Promise<void>;
  /** Starts it again (same ports, same settings) and waits until it is ready. */
  restart(): Promise<void>;
}

export interface HaStack {
  stack: Stack;
  endpoints: StackEndpoints;
  lb: LoadBalancerEndpoint;
  adminToken: string;
  /** CA of the API's certificate (the load balancer passes TLS through). */
  apiCaCertFile: string;
  apiCaCertPem: string;
  /** What HAProxy checks on each replica: /readyz where the API has it, else /healthz. */
  healthPath: string;
  apis: Replica[];
  workers: Replica[];
  /** The Temporal connection the processes use (TLS files read), for checks. */
  temporal: TemporalConnectionConfig;
  stop(): Promise<void>;
}

export async function startHaStack(o: HaStackOptions): Promise<HaStack> {
  const distDir = o.distDir ?? join(repoRoot, 'dist');
  const main = (name: string) => join(distDir, 'apps', 'control-plane', 'src', `${name}-main.js`);
  for (const m of [main('api'), main('worker')])
    if (!existsSync(m)) throw new Error(`${m} is missing: run \`npm run build\` first (start:ha runs the build output with node)`);
  const stack = await startStack({
    dataDir: o.dataDir,
    persistent: o.persistent,
    database: { name: o.databaseName, prefer: 'auto' },
    ...(o.temporalServer === 'dev' ? {} : { temporal: { kind: 'production' as const, databasePrefix: o.temporalDatabasePrefix } }),
    ...(o.onEvent ? { onEvent: o.onEvent } : {}),
  });
  try {
    const e = stack.endpoints;
    if (e.database.kind !== 'postgres')
      throw new Error('the HA topology needs PostgreSQL for the store: none answered on 127.0.0.1:5432 (or set HCS_DATABASE_URL)');
    // Migrated once before any replica starts (each API migrates again at start, under the advisory lock).
    const db = await openDatabase(e.database);
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
    const settings = localControlPlaneSettings(e);
    const temporal = temporalConfig(e);
    const sup = stack.supervisor;
    const apiCaCertPem = settings.tls.caCertPem;

    const apiSpec =
      (i: number) =>
      async (take: PortTaker): Promise<ProcessSpec> => {
        const name = `api-${i + 1}`;
        const [restPort, grpcPort] = [await take(`${name}-rest`), await take(`${name}-grpc`)];
        return {
          name,
          command: process.execPath,
          args: [main('api'), `--replica=${name}`],
          cwd: distDir,
          env: { ...settings.env({ api: { restPort, grpcPort } }), HCS_LOG_LEVEL: 'info' },
          readyTimeoutMs: 120_000,
          probe: async () => {
            const res = await httpCall(`https://127.0.0.1:${restPort}/healthz`, { ca: apiCaCertPem });
            if (res.status !== 200) throw new Error(`${name} /healthz answered ${res.status}`);
          },
        };
      };
    const apis = await Promise.all(Array.from({ length: o.apiReplicas ?? 2 }, (_, i) => supervised(sup, apiSpec(i), 'api')));
    const ports = apis.map(({ spec: s }) => ({
      name: s.name,
      restPort: Number(s.env!.HCS_API_PORT),
      grpcPort: Number(s.env!.HCS_GRPC_PORT),
    }));
    const healthPath = await readinessPath(ports[0]!.restPort, apiCaCertPem);

    const workerSpecs = Array.from({ length: o.workers ?? 2 }, (_, i): ProcessSpec => {
      const name = `worker-${i + 1}`;
      const workRoot = join(o.dataDir, `terraform-work-${name}`);
      mkdirSync(workRoot, { recursive: true, mode: 0o700 });
      return {
        name,
        command: process.execPath,
        // The replica's name on its command line (the process ignores it): ps and the probe find it by it.
        args: [main('worker'), `--replica=${name}`],
        cwd: distDir,
        env: { ...settings.env({ worker: { workRoot } }), HCS_LOG_LEVEL: 'info' },
        readyTimeoutMs: 180_000,
        // Ready once Temporal lists this process among the task queue's pollers.
        probe: () => expectPoller(temporal, name),
      };
    });
    const workers: Replica[] = [];
    for (const spec of workerSpecs) workers.push(await supervised(sup, () => Promise.resolve(spec), 'worker'));

    const lb = await startHaproxy(sup, {
      binary: e.tools.haproxy,
      dataDir: o.dataDir,
      replicas: ports,
      caCertFile: settings.tls.caCertFile,
      serverName: 'localhost',
      healthPath,
    });
    return {
      stack,
      endpoints: e,
      lb,
      adminToken: settings.adminToken,
      apiCaCertFile: settings.tls.caCertFile,
      apiCaCertPem,
      healthPath,
      apis,
      workers,
      temporal,
      stop: () => stopStack(stack, o.persistent),
    };
  } catch (err) {
    await stopStack(stack, o.persistent);
    throw err;
  }
}

/** A replica started on ports `build` takes (again on new ones if another process took one first). */
async function supervised(
  sup: Supervisor,
  build: (take: PortTaker) => Promise<ProcessSpec>,
  kind: Replica['kind'],
): Promise<Replica & { spec: ProcessSpec }> {
  const spec = await sup.startOnFreePorts(async (take) => {
    const spec = await build(take);
    return { spec, value: spec };
  });
  let running = sup.running(spec.name);
  return {
    spec,
    name: spec.name,
    kind,
    process: () => running,
    kill: async () => {
      signalGroup(running.pid, 'SIGKILL');
      await running.exited;
    },
    restart: async () => {
      running = await sup.start(await sup.stopService(spec.name));
    },
  };
}

/** A persistent stack keeps its databases (stack.stop drops a run's own); a run's stack goes entirely. */
function stopStack(stack: Stack, persistent: boolean): Promise<void> {
  return persistent ? stack.supervisor.stop() : stack.stop();
}

/** /readyz when the API serves it (200 or 503), else /healthz. */
async function readinessPath(restPort: number, ca: string): Promise<string> {
  const res = await httpCall(`https://127.0.0.1:${restPort}/readyz`, { ca });
  return res.status === 404 ? '/healthz' : '/readyz';
}

/** The Temporal connection of the stack's processes (the production server's TLS files read; the dev server in plaintext on loopback). */
export function temporalConfig(e: StackEndpoints): TemporalConnectionConfig {
  const t = e.temporal;
  return 'tls' in t ? temporalServerConnection(t) : { address: t.address, namespace: t.namespace };
}

/**
 * Throws unless the worker `replica` of this machine polls the control plane's workflow and
 * activity task queues (a poller's identity is pid@host; the pid's command line names the replica).
 */
async function expectPoller(temporal: TemporalConnectionConfig, replica: string): Promise<void> {
  const connection = await Connection.connect({ ...temporalConnectOptions(temporal), connectTimeout: 2_000 });
  try {
    for (const taskQueueType of [1, 2] as const) {
      const res = await connection.workflowService.describeTaskQueue({
        namespace: temporal.namespace,
        taskQueue: { name: CONTROL_PLANE_TASK_QUEUE },
        taskQueueType,
      });
      const ours = (res.pollers ?? []).some((p) => {
        const [pid, host] = (p.identity ?? '').split('@');
        return host === hostname() && /^\d+$/.test(pid ?? '') && commandLine(Number(pid)).includes(`--replica=${replica}`);
      });
      if (!ours) throw new Error(`${replica} does not poll ${CONTROL_PLANE_TASK_QUEUE} yet`);
    }
  } finally {
    await connection.close();
  }
}

function commandLine(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}
