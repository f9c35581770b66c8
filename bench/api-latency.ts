// API throughput and latency under a local load generator (autocannon, in this process), each
// beside its reference from the same run (bench/support/report.ts prints goal, baseline and the
// previous committed figure):
//   GET cluster: read from the store, authenticated (ARM's bearer JWT; an operator token too),
//     ARM headers, the request line logged - throughput as a share of a bare node:http handler
//     answering the same body, and p99 at a fixed 1,000 requests per second (sent from a second
//     process, support/paced-apart.ts).
//   PUT accept: validate, record the resource and its operation, answer 201, with the real
//     Temporal server behind the API (the API with a starter that only counts, and the bare
//     handler, are its baselines); afterwards every accepted operation's workflow is looked up in
//     Temporal, within a bounded wait, so an answer that skipped the start does not count as fast.
// Run: npm run bench:api   (writes bench/results/api-latency.txt and .json)
//   BENCH_DURATION_S (default 10) seconds per run; BENCH_PARTS=get,rate,put (default all).
//   A third GET reference is the bare handler reading the cluster's row with the store's own
//   getCluster before it answers: the floor of any handler that reads the store per request.
//   PUT accept is measured three ways: 50 creates sent together, in bursts (the goal's "50
//   concurrent creates"), a closed loop of 50 connections for 10 s (saturation: its p50 is about
//   50 divided by the accepts per second), in one subscription (every create queues for its lock)
//   and over 50 subscriptions (none waits for another's). The floor of "answer after one store
//   transaction" is the bare handler committing one (a row lock and two inserts) per PUT.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi } from '../apps/api/src/api.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { STAND_IN_WORKFLOW_TYPES } from '../contract/temporal.js';
import { startStack } from '../devstack/stack.js';
import { temporalOperationStarter, type OperationStarter } from '../lib/operation-starter.js';
import { AesGcmPayloadCodec } from '../lib/payload-codec.js';
import { openDatabase } from '../store/database.js';
import { getCluster } from '../store/clusters.js';
import { migrate } from '../store/migrate.js';
import { putSubscription } from '../store/subscriptions.js';
import { benchApiOptions, benchCallers, nextClusterPut, seedCluster, startBare } from './support/api-fixture.js';
import { loadRow, mergeRuns, runBursts, runLoad, type LoadFigures } from './support/http-load.js';
import { runPacedApart } from './support/paced-apart.js';
import { BenchReport } from './support/report.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const PARTS = new Set((process.env.BENCH_PARTS ?? 'get,rate,put').split(','));
const GET_CONNECTIONS = 10;
const FIXED_RATE = 1_000;
const PUT_CONNECTIONS = 50;
/** Bursts of PUT_CONNECTIONS creates sent together, and the pause after each one's last answer. */
const PUT_BURSTS = 20;
const PUT_BURST_PAUSE_MS = 200;
/** How long the accepted operations' workflows may take to appear in Temporal after the PUT run. */
const WORKFLOW_WAIT_MS = 60_000;

const report = new BenchReport('api-latency', {
  command: 'npm run bench:api',
  about: [
    `autocannon in this process, loopback, ${DURATION_S} s per run after a 2 s warm-up of each server (the GET throughput runs in turns, two halves each); latencies of 2xx answers, exact (not 1 ms steps)`,
    `GET: ${GET_CONNECTIONS} connections closed loop for throughput; p99 at ${FIXED_RATE} req/s sent evenly from a second process (open loop, latency from when each request was due; CPU: the serving process's), and with autocannon's overallRate (each connection sends its share of the second at its start: bursts)`,
    `PUT: each PUT a new cluster with its own /24 in one subscription (every create takes the subscription's lock): ${PUT_BURSTS} bursts of ${PUT_CONNECTIONS} sent together (${PUT_BURST_PAUSE_MS} ms after the previous burst's last answer), then ${PUT_CONNECTIONS} connections in a closed loop`,
    'the API logs each request at info with the process logger to the null device and takes a per-caller rate-limit token, as in production; the bare handler is node:http answering the same body',
  ],
});

const stackDir = mkdtempSync(join(tmpdir(), 'hcs-bench-'));
const stack = await startStack({
  dataDir: stackDir,
  persistent: false,
  database: { name: `hcs_bench_${Date.now().toString(36)}`, prefer: 'auto' },
});
const db = await openDatabase(stack.endpoints.database);
await migrate(db);
const versions = stack.endpoints.tools.consulVersions;
const payloadCodec = new AesGcmPayloadCodec([{ id: 'bench', key: randomBytes(32) }]);
const worker = await startWorker({ temporal: stack.endpoints.temporal, db, payloadCodec });
const starter = await temporalOperationStarter({
  temporal: stack.endpoints.temporal,
  payloadCodec,
  workflowTypes: STAND_IN_WORKFLOW_TYPES,
});
const callers = await benchCallers();
const common = { db, payloadCodec, ...benchApiOptions(callers, versions) };
const api = await startApi({ starter, ...common });
// The same API with a starter that only counts, on a task queue of its own (no worker's relay
// takes its start requests): our own cost without Temporal's.
let counted = 0;
const countingStarter: OperationStarter = {
  taskQueue: `bench-no-temporal-${randomUUID()}`,
  start: async () => void counted++,
  cancel: async () => {},
  find: async () => 'running',
  ping: async () => {},
  close: async () => {},
};
const apiNoTemporal = await startApi({ starter: countingStarter, ...common });

const register = async (sub: string) => putSubscription(db, { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
const readSub = randomUUID();
await register(readSub);
const seeded = await seedCluster(api.restUrl, readSub, callers.operator, versions.at(-1)!);
const bare = await startBare(() => seeded.body);
const seededKey = seeded.path.split('?')[0]!.toLowerCase();
const bareRead = await startBare(
  () => seeded.body,
  () => getCluster(db, seededKey),
);
// The floor of an accept that answers after one store transaction: the bare handler committing,
// per PUT, what an accept must (under one subscription's row lock, as every create in it queues:
// an operation row and its start request) in scratch tables of this run's database.
await db.exec(`CREATE TABLE bench_floor_lock (id int PRIMARY KEY);
  INSERT INTO bench_floor_lock VALUES (1);
  CREATE TABLE bench_floor_operation (id uuid PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE bench_floor_start (operation_id uuid PRIMARY KEY, due_at timestamptz NOT NULL DEFAULT now());`);
const bareTransaction = await startBare(
  () => seeded.body,
  () =>
    db.transaction(async (tx) => {
      const id = randomUUID();
      await tx.query('SELECT id FROM bench_floor_lock WHERE id = 1 FOR UPDATE');
      await tx.query('INSERT INTO bench_floor_operation (id, body) VALUES ($1, $2)', [id, seeded.body]);
      await tx.query('INSERT INTO bench_floor_start (operation_id) VALUES ($1)', [id]);
    }),
);

const row = (label: string, f: LoadFigures) => report.line(loadRow(label, f));
const get = (url: string, headers: Record<string, string>, o: { seconds?: number; rate?: number } = {}) =>
  runLoad({
    url: `${url}${seeded.path}`,
    method: 'GET',
    headers,
    connections: GET_CONNECTIONS,
    durationSeconds: o.seconds ?? DURATION_S,
    ...(o.rate ? { rate: o.rate } : {}),
  });

if (PARTS.has('get') || PARTS.has('rate')) {
  await get(api.restUrl, callers.arm, { seconds: 2 });
  await get(bare.url, callers.arm, { seconds: 2 });
  await get(bareRead.url, callers.arm, { seconds: 2 });
}
if (PARTS.has('get')) {
  // In turns, half a run at a time, so a change of the machine's load falls on every target alike.
  const halves: Record<'arm' | 'bare' | 'operator' | 'bareRead', LoadFigures[]> = { arm: [], bare: [], operator: [], bareRead: [] };
  for (let i = 0; i < 2; i++) {
    halves.arm.push(await get(api.restUrl, callers.arm, { seconds: DURATION_S / 2 }));
    halves.bare.push(await get(bare.url, callers.arm, { seconds: DURATION_S / 2 }));
    halves.operator.push(await get(api.restUrl, callers.operator, { seconds: DURATION_S / 2 }));
    halves.bareRead.push(await get(bareRead.url, callers.arm, { seconds: DURATION_S / 2 }));
  }
  const [oursArm, bareGet, oursOperator, bareReadGet] = [halves.arm, halves.bare, halves.operator, halves.bareRead].map(mergeRuns) as [
    LoadFigures,
    LoadFigures,
    LoadFigures,
    LoadFigures,
  ];
  row('GET cluster (ours, ARM JWT)', oursArm);
  row('GET cluster (ours, operator token)', oursOperator);
  row('GET cluster (bare)', bareGet);
  row('GET cluster (bare + one store read)', bareReadGet);
  report.figure({ name: 'GET req/s (ARM JWT)', value: oursArm.rps, unit: 'req/s', baseline: { label: 'bare', value: bareGet.rps } });
  report.figure({
    name: 'GET throughput ours/bare (ARM JWT)',
    value: oursArm.rps / bareGet.rps,
    unit: 'x',
    goal: { kind: 'min', value: 0.5 },
    baseline: { label: 'bare', value: 1 },
  });
  report.figure({
    name: 'GET throughput (bare + one store read)/bare',
    value: bareReadGet.rps / bareGet.rps,
    unit: 'x',
    baseline: { label: 'bare', value: 1 },
  });
  report.figure({
    name: 'GET throughput ours/(bare + one store read) (ARM JWT)',
    value: oursArm.rps / bareReadGet.rps,
    unit: 'x',
    baseline: { label: 'bare + one store read', value: 1 },
  });
  report.figure({
    name: 'GET throughput ours/bare (operator)',
    value: oursOperator.rps / bareGet.rps,
    unit: 'x',
    goal: { kind: 'min', value: 0.5 },
    baseline: { label: 'bare', value: 1 },
  });
}
if (PARTS.has('rate')) {
  // An even 1,000 req/s (the goal's load) from a load generator in a process of its own (as
  // clients are), then autocannon's overallRate (the same count per second in bursts at 10
  // connections, from this process: latency near saturation).
  const paced = (url: string, seconds = DURATION_S) =>
    runPacedApart({ url: `${url}${seeded.path}`, headers: callers.arm, rate: FIXED_RATE, durationSeconds: seconds });
  await paced(api.restUrl, 2);
  await paced(bare.url, 2);
  const oursPaced = await paced(api.restUrl);
  const barePaced = await paced(bare.url);
  const oursBurst = await get(api.restUrl, callers.arm, { rate: FIXED_RATE });
  const bareBurst = await get(bare.url, callers.arm, { rate: FIXED_RATE });
  row(`GET at ${FIXED_RATE} req/s even (ours, ARM JWT)`, oursPaced);
  row(`GET at ${FIXED_RATE} req/s even (bare)`, barePaced);
  row(`GET at ${FIXED_RATE} req/s bursts (ours, ARM JWT)`, oursBurst);
  row(`GET at ${FIXED_RATE} req/s bursts (bare)`, bareBurst);
  report.figure({
    name: `GET p99 at ${FIXED_RATE} req/s`,
    value: oursPaced.p99,
    unit: 'ms',
    goal: { kind: 'max', value: 10 },
    baseline: { label: 'bare', value: barePaced.p99 },
  });
  report.figure({
    name: `GET p99 at ${FIXED_RATE} req/s in bursts`,
    value: oursBurst.p99,
    unit: 'ms',
    baseline: { label: 'bare', value: bareBurst.p99 },
  });
}

if (PARTS.has('put')) {
  // Every PUT creates a new cluster with its own /24, so each one is a real accept.
  const putSub = randomUUID();
  const noTemporalSub = randomUUID();
  await register(putSub);
  await register(noTemporalSub);
  const put = (url: string, sub: string | string[]) =>
    runLoad({
      url,
      method: 'PUT',
      headers: callers.arm,
      connections: PUT_CONNECTIONS,
      durationSeconds: DURATION_S,
      next: nextClusterPut(sub, versions.at(-1)!),
    });
  const burst = (url: string, sub: string) =>
    runBursts({
      url,
      method: 'PUT',
      headers: callers.arm,
      size: PUT_CONNECTIONS,
      bursts: PUT_BURSTS,
      pauseMs: PUT_BURST_PAUSE_MS,
      next: nextClusterPut(sub, versions.at(-1)!),
    });
  const burstSub = randomUUID();
  const burstNoTemporalSub = randomUUID();
  await register(burstSub);
  await register(burstNoTemporalSub);
  const oursBurst = await burst(api.restUrl, burstSub);
  const noTemporalBurst = await burst(apiNoTemporal.restUrl, burstNoTemporalSub);
  const bareBurst = await burst(bare.url, burstSub);
  const floorBurst = await burst(bareTransaction.url, burstSub);
  row(`PUT accept, ${PUT_CONNECTIONS} at once (ours, Temporal)`, oursBurst);
  row(`PUT accept, ${PUT_CONNECTIONS} at once (ours, no Temporal)`, noTemporalBurst);
  row(`PUT accept, ${PUT_CONNECTIONS} at once (bare)`, bareBurst);
  row(`PUT accept, ${PUT_CONNECTIONS} at once (bare + one store transaction)`, floorBurst);
  report.figure({
    name: `PUT accept p99, ${PUT_CONNECTIONS} at once (bare + one store transaction: the floor)`,
    value: floorBurst.p99,
    unit: 'ms',
    goal: { kind: 'max', value: 50 },
    baseline: { label: 'bare', value: bareBurst.p99 },
  });
  report.figure({
    name: `PUT accept p99, ${PUT_CONNECTIONS} creates at once (Temporal)`,
    value: oursBurst.p99,
    unit: 'ms',
    goal: { kind: 'max', value: 50 },
    baseline: { label: 'API without Temporal', value: noTemporalBurst.p99 },
  });
  report.figure({
    name: `PUT accept p50, ${PUT_CONNECTIONS} creates at once (Temporal)`,
    value: oursBurst.p50,
    unit: 'ms',
    baseline: { label: 'bare', value: bareBurst.p50 },
  });
  const burstWorkflows = await workflowsInTemporal(burstSub);
  const oursPut = await put(api.restUrl, putSub);
  const workflows = await workflowsInTemporal(putSub);
  const noTemporalPut = await put(apiNoTemporal.restUrl, noTemporalSub);
  const barePut = await put(bare.url, putSub);
  const floorPut = await put(bareTransaction.url, putSub);
  // The same closed loop over as many subscriptions as connections: no create waits for another's
  // subscription lock, so what is left is the accept's own cost.
  const spreadSubs = Array.from({ length: PUT_CONNECTIONS }, () => randomUUID());
  for (const s of spreadSubs) await register(s);
  const spreadPut = await put(api.restUrl, spreadSubs);
  const spreadWorkflows = await workflowsInTemporal(spreadSubs);
  row('PUT accept (ours, Temporal)', oursPut);
  row(`PUT accept over ${PUT_CONNECTIONS} subscriptions (ours, Temporal)`, spreadPut);
  row('PUT accept (ours, no Temporal)', noTemporalPut);
  row('PUT accept (bare)', barePut);
  row('PUT accept (bare + one store transaction)', floorPut);
  report.line(
    `PUT accepted ${oursBurst.ok} operations in bursts, ${oursPut.ok} in the closed loop and ${spreadPut.ok} over ${PUT_CONNECTIONS} subscriptions with Temporal (${burstWorkflows.recorded}, ${workflows.recorded} and ${spreadWorkflows.recorded} recorded); ${burstWorkflows.found}, ${workflows.found} and ${spreadWorkflows.found} of their workflows were in Temporal ${(burstWorkflows.ms / 1000).toFixed(1)} s, ${(workflows.ms / 1000).toFixed(1)} s and ${(spreadWorkflows.ms / 1000).toFixed(1)} s after each run (wait bounded at ${WORKFLOW_WAIT_MS / 1000} s); the counting starter was called ${counted} times for ${noTemporalBurst.ok + noTemporalPut.ok} accepts`,
  );
  report.figure({
    name: 'PUT accept p50 (Temporal)',
    value: oursPut.p50,
    unit: 'ms',
    baseline: { label: 'API without Temporal', value: noTemporalPut.p50 },
  });
  report.figure({
    name: 'PUT accept p99 (Temporal)',
    value: oursPut.p99,
    unit: 'ms',
    // Closed loop: the figure is about PUT_CONNECTIONS / (accepts per second), whatever the API does per request.
    goal: { kind: 'max', value: 50 },
    baseline: { label: 'API without Temporal', value: noTemporalPut.p99 },
  });
  report.figure({
    name: `PUT accept p99 over ${PUT_CONNECTIONS} subscriptions (Temporal)`,
    value: spreadPut.p99,
    unit: 'ms',
    goal: { kind: 'max', value: 50 },
    baseline: { label: 'one subscription', value: oursPut.p99 },
  });
  report.figure({
    name: `PUT accepted req/s over ${PUT_CONNECTIONS} subscriptions (Temporal)`,
    value: spreadPut.rps,
    unit: 'req/s',
    baseline: { label: 'one subscription', value: oursPut.rps },
  });
  report.figure({
    name: 'PUT accept p99 (no Temporal)',
    value: noTemporalPut.p99,
    unit: 'ms',
    baseline: { label: 'bare', value: barePut.p99 },
  });
  report.figure({
    name: 'PUT accepted req/s (Temporal)',
    value: oursPut.rps,
    unit: 'req/s',
    baseline: { label: 'API without Temporal', value: noTemporalPut.rps },
  });
  report.figure({
    name: 'PUT accepts with their workflow in Temporal',
    value:
      ((workflows.found + burstWorkflows.found + spreadWorkflows.found) /
        Math.max(1, workflows.recorded + burstWorkflows.recorded + spreadWorkflows.recorded)) *
      100,
    unit: '%',
    goal: { kind: 'min', value: 100 },
  });
}

report.line(`store: ${db.kind}`);
report.write();
await apiNoTemporal.close();
await api.close();
await starter.close();
await worker.shutdown();
await db.close();
await stack.stop();
bare.server.close();
bareRead.server.close();
bareTransaction.server.close();
rmSync(stackDir, { recursive: true, force: true });
process.exit(0);

/**
 * The operations the PUT run recorded in `sub`, and how many of their workflows Temporal has
 * (running or closed), asked until all are there or WORKFLOW_WAIT_MS has passed.
 */
async function workflowsInTemporal(subs: string | string[]): Promise<{ recorded: number; found: number; ms: number }> {
  const { rows } = await db.query<{ workflow_id: string }>('SELECT workflow_id FROM operations WHERE lower(subscription_id) = ANY($1)', [
    (typeof subs === 'string' ? [subs] : subs).map((s) => s.toLowerCase()),
  ]);
  const missing = new Set(rows.map((r) => r.workflow_id));
  const started = performance.now();
  for (;;) {
    const ids = [...missing];
    for (let i = 0; i < ids.length; i += 50) {
      const found = await Promise.all(ids.slice(i, i + 50).map(async (id) => [id, await starter.find(id).catch(() => 'absent')] as const));
      for (const [id, state] of found) if (state !== 'absent') missing.delete(id);
    }
    const ms = performance.now() - started;
    if (missing.size === 0 || ms > WORKFLOW_WAIT_MS) return { recorded: rows.length, found: rows.length - missing.size, ms };
    await new Promise((r) => setTimeout(r, 500));
  }
}
