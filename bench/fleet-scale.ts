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
// has a server and does the real work; the rest stop at the product's no-servers check; default 1).
import { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { blobServiceClient } from '../apps/worker/src/cloud-access.js';
import { stackForScript } from '../devstack/script-stack.js';
import type { TemporalServerEndpoint } from '../devstack/services/temporal-server.js';
import { Supervisor } from '../devstack/supervisor.js';
import { parseClusterBody } from '../domain/cluster-spec.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../lib/payload-codec.js';
import { temporalConnectOptions } from '../lib/temporal-connection.js';
import { toolPaths } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { lifecycleConfig, vaultPki } from '../test/support/lifecycle.js';
import { BenchReport } from './support/report.js';
import { startSimAgents } from './support/fleet-sim-agents.js';
import { databaseSizes, listFirings, percentile, type Firing } from './support/fleet-sim-measure.js';
import { temporalOf, type SimWorkerConfig, type SimWorkerUsage } from './support/fleet-sim-worker.js';
import { createPerClusterSchedules, expectedFirings, recordSimClusters } from './support/fleet-sim.js';

const env = (name: string, fallback: string) => process.env[name] ?? fallback;
const SIZES = env('FLEETSIM_SIZES', '1000,5000,10000').split(',').map(Number);
const WINDOW_S = Number(env('FLEETSIM_WINDOW_SECONDS', '240'));
const AGENTS = Number(env('FLEETSIM_AGENTS', '3'));
const REAL_EVERY = Number(env('FLEETSIM_REAL_EVERY', '1'));
const GOAL_P99_S = 60;

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
const taskQueue = `fleetsim-${randomUUID()}`;
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

function usage(): Promise<SimWorkerUsage> {
  return new Promise((resolve) => {
    worker!.once('message', (m) => resolve(m as SimWorkerUsage));
    worker!.send('usage');
  });
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
  const workerConfig: SimWorkerConfig = { taskQueue, payloadKeys, agents: agents.map(({ label, url, caPem }) => ({ label, url, caPem })) };
  worker = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./support/fleet-sim-worker.ts', import.meta.url))], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, FLEETSIM_WORKER: JSON.stringify(workerConfig) },
  });
  await new Promise<void>((resolve, reject) => {
    worker!.once('message', () => resolve());
    worker!.once('exit', (code) => reject(new Error(`the simulation worker exited with ${code}`)));
  });
  const pki = vaultPki(stack);
  const phases = new Map<number, number>();
  const figures: Record<number, { p99: number }> = {};
  let recorded = 0;
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
    const made = await createPerClusterSchedules({
      client: client.schedule,
      taskQueue,
      from: recorded,
      to: n,
      base: Math.floor(Date.now() / 1000) + 5,
      concurrency: 16,
    });
    for (const [i, s] of made) phases.set(i, s);
    const t2 = Date.now();
    report.line('');
    report.line(
      `## per-cluster schedules, N = ${n}: recorded ${n - recorded} clusters in ${((t1 - t0) / 1000).toFixed(0)} s, made ${2 * (n - recorded)} schedules in ${((t2 - t1) / 1000).toFixed(0)} s (${((2 * (n - recorded)) / ((t2 - t1) / 1000)).toFixed(0)}/s)`,
    );
    recorded = n;
    await delay(10_000);
    const from = Math.ceil(Date.now() / 1000) * 1000;
    const sizeBefore = await sizes();
    const useBefore = await usage();
    let rss = useBefore.rssBytes;
    const until = from + WINDOW_S * 1000;
    while (Date.now() < until) {
      await delay(Math.min(5_000, Math.max(0, until - Date.now())));
      rss = Math.max(rss, (await usage()).rssBytes);
    }
    const useAfter = await usage();
    const sizeAfter = await sizes();
    // Stragglers: a firing due near the end may start after it; visibility is eventually consistent.
    await delay(30_000);
    const firings: Firing[] = await listFirings(client, from, until);
    const expected = expectedFirings(phases.values(), from / 1000, until / 1000);
    const startLags = firings.map((f) => f.startLagMs / 1000);
    // A firing that never started counts with the whole wait so far.
    const missing = Math.max(0, expected - firings.length);
    const waited = (Date.now() - from) / 1000;
    for (let m = 0; m < missing; m++) startLags.push(waited);
    const closeLags = firings.map((f) => (f.closeLagMs ?? Date.now() - f.nominal) / 1000);
    const cpu = (useAfter.cpuMicros - useBefore.cpuMicros) / 1000 / (useAfter.at - useBefore.at);
    const perDay = (b: number, a: number) => (((a - b) / (WINDOW_S * 1000)) * 86_400_000) / 1024 ** 3;
    const failed = firings.filter((f) => f.status !== 'COMPLETED' && f.status !== 'RUNNING').length;
    report.line(
      `firings with nominal time in the window: ${firings.length} started of ${expected} expected (${(expected / WINDOW_S).toFixed(2)}/s), ${failed} not completed successfully`,
    );
    const p99 = percentile(startLags, 99);
    const base = figures[SIZES[0]!];
    report.figure({
      name: `per-cluster N=${n} firing lag p50`,
      value: percentile(startLags, 50),
      unit: 's',
      goal: { kind: 'max', value: GOAL_P99_S },
    });
    report.figure({
      name: `per-cluster N=${n} firing lag p99`,
      value: p99,
      unit: 's',
      goal: { kind: 'max', value: GOAL_P99_S },
      ...(base && n !== SIZES[0] ? { baseline: { label: `N=${SIZES[0]}`, value: base.p99 } } : {}),
    });
    report.figure({ name: `per-cluster N=${n} completion lag p50`, value: percentile(closeLags, 50), unit: 's' });
    report.figure({ name: `per-cluster N=${n} completion lag p99`, value: percentile(closeLags, 99), unit: 's' });
    report.figure({ name: `per-cluster N=${n} worker CPU`, value: cpu * 100, unit: '% of a core', goal: { kind: 'max', value: 100 } });
    report.figure({ name: `per-cluster N=${n} worker RSS max`, value: rss / 1024 ** 2, unit: 'MiB' });
    report.figure({
      name: `per-cluster N=${n} Temporal DB growth`,
      value: perDay(sizeBefore.temporal, sizeAfter.temporal),
      unit: 'GiB/day',
    });
    report.figure({ name: `per-cluster N=${n} store DB growth`, value: perDay(sizeBefore.store, sizeAfter.store), unit: 'GiB/day' });
    figures[n] = { p99 };
  }
} finally {
  worker?.send('stop');
  await new Promise((r) => (worker && worker.exitCode === null ? worker.once('exit', r) : r(undefined)));
  await sup.stop();
  await connection.close();
  await db.close?.();
}
report.write();
process.exit(0);
