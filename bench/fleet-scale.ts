// Benchmark (`npm run bench:fleet`): can one worker keep a fleet's hourly snapshots and
// certificate checks on time? A fleet simulation (bench/support/fleet-sim*.ts, benchmark only)
// records N clusters in the store whose snapshot and certificate work is served by a few real
// Consul dev agents, and gives them their per-cluster schedules as the product makes them, spread
// evenly over the hour, so any window sees the fleet's real rate (N/3600 firings per second and
// task). For N = 1,000, 5,000 and 10,000 (added in steps) it watches a window of a few minutes
// and reports the firing lag (workflow start minus nominal time, p50/p99; goal p99 <= 60 s at
// 10,000), the completion lag, the worker's CPU and RSS, and the growth per day of Temporal's and
// the store's databases. Settings (environment): FLEETSIM_SIZES (default 1000,5000,10000),
// FLEETSIM_WINDOW_SECONDS (240), FLEETSIM_AGENTS (3), FLEETSIM_REAL_EVERY (every k-th cluster
// has a server and does the real work; the rest stop at the product's no-servers check; default 1),
// FLEETSIM_DESIGNS (which designs, in order; default fleet,per-cluster).
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { blobServiceClient } from '../apps/worker/src/cloud-access.js';
import { stackForScript } from '../devstack/script-stack.js';
import type { TemporalServerEndpoint } from '../devstack/services/temporal-server.js';
import { Supervisor } from '../devstack/supervisor.js';
import { parseClusterBody, type ClusterSpec } from '../domain/cluster-spec.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../lib/payload-codec.js';
import { temporalConnectOptions } from '../lib/temporal-connection.js';
import { toolPaths } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { lifecycleConfig, vaultPki } from '../test/support/lifecycle.js';
import { BenchReport } from './support/report.js';
import { startSimAgents, type SimAgent } from './support/fleet-sim-agents.js';
import { databaseSizes } from './support/fleet-sim-measure.js';
import { measureWindow } from './support/fleet-sim-window.js';
import { temporalOf, type SimWorkerConfig } from './support/fleet-sim-worker.js';
import {
  createPerClusterSchedules,
  deletePerClusterSchedules,
  forgetSimClusters,
  recordSimClusters,
  simWorkSummary,
  spreadRecordedTimes,
} from './support/fleet-sim.js';
import { deleteSchedule } from '../activities/schedules.js';
import { fleetSafetyScheduleId } from '../activities/fleet-safety.js';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const SIZES = env('FLEETSIM_SIZES', '1000,5000,10000').split(',').map(Number);
const WINDOW_S = Number(env('FLEETSIM_WINDOW_SECONDS', '240'));
const AGENTS = Number(env('FLEETSIM_AGENTS', '3'));
const REAL_EVERY = Number(env('FLEETSIM_REAL_EVERY', '1'));
const GOAL_P99_S = 60;
/** Schedules made (or deleted) at once. */
const SCHEDULE_CONCURRENCY = 48;
type Design = 'per-cluster' | 'fleet';
const DESIGNS = env('FLEETSIM_DESIGNS', 'fleet,per-cluster').split(',') as Design[];

const production = existsSync(toolPaths().temporalServer) && !process.env.FLEETSIM_DEV_TEMPORAL;
const stack = await stackForScript({ name: 'fleet', scriptUrl: import.meta.url, productionTemporal: production });
const isProduction = 'tls' in stack.temporal;

const report = new BenchReport('fleet-scale', {
  command: 'npm run bench:fleet',
  about: [
    `Temporal: ${isProduction ? 'the production server (go.temporal.io/server) on PostgreSQL, 4 history shards' : 'the dev server (temporal server start-dev, SQLite): the production server was not built here'}; store on ${stack.database.kind}`,
    `one worker process (the product's worker with the simulation's adaptors); ${AGENTS} Consul dev agents serve every simulated cluster`,
    `per N: clusters recorded and their schedules made (hourly snapshots, hourly certificate checks, spread evenly over the hour), then a ${WINDOW_S} s window`,
    REAL_EVERY === 1
      ? 'every simulated cluster has a server: each snapshot firing streams a real snapshot into Blob, each certificate check reads the published certificate'
      : `every ${REAL_EVERY}th simulated cluster has a server and does the real work; the others' firings stop at the product's "no servers yet" check`,
  ],
});

const db = await openDatabase(stack.database);
await migrate(db);
const payloadKeys = `fleet-1:${randomBytes(32).toString('base64')}`;
const codec = new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys));
const connection = await Connection.connect(temporalConnectOptions(temporalOf(stack)));
const client = new Client({ connection, namespace: stack.temporal.namespace, dataConverter: { payloadCodecs: [codec] } });
const sup = new Supervisor({ stateDir: join(stack.dataDir, 'fleetsim', 'supervisor') });
const parsed = lifecycleConfig(stack);
const versions = Object.keys(stack.tools.consul);
const version = stack.tools.consulVersions.at(-1) ?? versions[0]!;
let worker: ChildProcess | undefined;

/** What the Temporal server and the store keep on disk now (bytes). */
async function sizes(): Promise<{ temporal: number; store: number }> {
  const storeUrl = stack.database.kind === 'postgres' ? stack.database.url : undefined;
  const storeName = storeUrl ? new URL(storeUrl).pathname.slice(1) : undefined;
  if (isProduction && storeUrl) {
    const t = (stack.temporal as TemporalServerEndpoint).databases;
    const s = await databaseSizes(storeUrl, [t.main, t.visibility, storeName!]);
    return { temporal: s[t.main]! + s[t.visibility]!, store: s[storeName!]! };
  }
  const file = join(stack.dataDir, 'temporal', 'temporal.sqlite');
  const temporal = ['', '-wal'].reduce((sum, suffix) => sum + (existsSync(file + suffix) ? statSync(file + suffix).size : 0), 0);
  const store = storeUrl ? (await databaseSizes(storeUrl, [storeName!]))[storeName!]! : 0;
  return { temporal, store };
}

/** Starts the simulation worker and resolves once it polls. */
async function startSimWorker(config: SimWorkerConfig): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/fleet-sim-worker.ts', import.meta.url))], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, FLEETSIM_WORKER: JSON.stringify(config) },
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`the simulation worker exited with ${code}`)));
  });
  return child;
}

async function stopSimWorker(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.send('stop');
  await exited;
}

const mib = (b: number) => b / 1024 ** 2;
const p99s: Record<string, number> = {};

/** One design over every N: clusters added in steps, a window measured at each. */
async function runDesign(design: Design, agents: SimAgent[], spec: ClusterSpec): Promise<void> {
  const taskQueue = `fleetsim-${design}-${randomUUID()}`;
  const pki = vaultPki(stack);
  worker = await startSimWorker({
    taskQueue,
    payloadKeys,
    agents: agents.map(({ label, url, caPem }) => ({ label, url, caPem })),
    ...(design === 'fleet' ? { fleetSlotSeconds: 60 } : {}),
  });
  const phases = new Map<number, number>();
  let recorded = 0;
  try {
    for (const n of SIZES) {
      const t0 = Date.now();
      await recordSimClusters({
        db,
        from: recorded,
        to: n,
        spec,
        agents,
        encrypt: (p) => pki.encrypt(p),
        real: (i) => i % REAL_EVERY === 0,
      });
      const t1 = Date.now();
      const base = Math.floor(Date.now() / 1000) + 5;
      let setup: string;
      if (design === 'per-cluster') {
        const made = await createPerClusterSchedules({
          client: client.schedule,
          taskQueue,
          from: recorded,
          to: n,
          base,
          concurrency: SCHEDULE_CONCURRENCY,
        });
        for (const [i, sec] of made) phases.set(i, sec);
        setup = `made ${2 * (n - recorded)} schedules in ${((Date.now() - t1) / 1000).toFixed(0)} s (${((2 * (n - recorded)) / ((Date.now() - t1) / 1000)).toFixed(0)}/s)`;
      } else {
        for (const [i, sec] of await spreadRecordedTimes(db, recorded, n, base)) phases.set(i, sec);
        setup = 'no per-cluster schedules (the one fleet schedule fires every 60 s)';
      }
      report.line('');
      report.line(`## ${design}, N = ${n}: recorded ${n - recorded} clusters in ${((t1 - t0) / 1000).toFixed(0)} s; ${setup}`);
      recorded = n;
      const r = await measureWindow({ client, worker, windowSeconds: WINDOW_S, phases: phases.values(), sizes });
      report.line(
        `firings with nominal time in the window: ${r.started} started of ${r.expected} expected (${(r.expected / WINDOW_S).toFixed(2)}/s); ${r.notCompleted} not completed (running or failed) when listed; worst firing lag ${r.startLag.max.toFixed(1)} s`,
      );
      const name = (what: string) => `${design} N=${n} ${what}`;
      const otherDesign = design === 'fleet' ? 'per-cluster' : 'fleet';
      const other = p99s[`${otherDesign} ${n}`];
      const first = p99s[`${design} ${SIZES[0]}`];
      const baseline =
        other !== undefined
          ? { baseline: { label: `${otherDesign} N=${n}`, value: other } }
          : first !== undefined && n !== SIZES[0]
            ? { baseline: { label: `${design} N=${SIZES[0]}`, value: first } }
            : {};
      report.figure({ name: name('firing lag p50'), value: r.startLag.p50, unit: 's', goal: { kind: 'max', value: GOAL_P99_S } });
      report.figure({
        name: name('firing lag p99'),
        value: r.startLag.p99,
        unit: 's',
        goal: { kind: 'max', value: GOAL_P99_S },
        ...baseline,
      });
      report.figure({ name: name('completion lag p50'), value: r.closeLag.p50, unit: 's' });
      report.figure({ name: name('completion lag p99'), value: r.closeLag.p99, unit: 's' });
      report.figure({ name: name('worker CPU'), value: r.cpu * 100, unit: '% of a core', goal: { kind: 'max', value: 100 } });
      report.figure({ name: name('worker RSS max'), value: mib(r.rssMaxBytes), unit: 'MiB' });
      report.figure({ name: name('Temporal DB growth'), value: mib(r.temporalPerDay), unit: 'MiB/day' });
      report.figure({ name: name('store DB growth'), value: mib(r.storePerDay), unit: 'MiB/day' });
      report.line(`real work recorded in the store so far: ${await simWorkSummary(db)}`);
      p99s[`${design} ${n}`] = r.startLag.p99;
    }
  } finally {
    await stopSimWorker(worker);
    worker = undefined;
  }
  // The next design starts from an empty fleet: the per-cluster schedules go, then the clusters.
  if (design === DESIGNS.at(-1)) return;
  if (design === 'per-cluster')
    await deletePerClusterSchedules({ client: client.schedule, to: recorded, concurrency: SCHEDULE_CONCURRENCY });
  else await deleteSchedule(client.schedule, fleetSafetyScheduleId(taskQueue));
  await forgetSimClusters(db);
}

try {
  const agents = await startSimAgents({
    sup,
    consulBinary: stack.tools.consul[version]!,
    dir: join(stack.dataDir, 'fleetsim'),
    count: AGENTS,
    blobs: blobServiceClient(parsed.blob),
  });
  const spec = parseClusterBody(
    { location: 'westeurope', properties: { consulVersion: version, serverCount: 1, network: { cidr: '10.200.0.0/16' } } },
    { knownConsulVersions: [version], existingCidrsInSubscription: [] },
  );
  for (const design of DESIGNS) await runDesign(design, agents, spec);
} finally {
  await stopSimWorker(worker);
  await sup.stop();
  await connection.close();
  await db.close();
}
report.write();
process.exit(0);
