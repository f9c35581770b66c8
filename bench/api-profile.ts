// Where a request's time goes: the benchmark's GET or PUT part (bench/api-latency.ts) under V8's
// CPU profiler (the profiler node --cpu-prof uses, started for the load window only), against the
// API on the store alone - no Temporal: the PUT's start request waits in the store's outbox, as
// it does until a relay takes it - and beside the bare handler answering the same body.
// Prints the top of the profile (bench/support/cpu-profile.ts) and the store round trips per
// request, and writes the .cpuprofile.
// Run: npx tsx bench/api-profile.ts [seconds]   BENCH_METHOD=get|put (default get)
//   BENCH_CALLER=arm|operator (default arm)   BENCH_PROFILE=0 (the same runs without the profiler)
//   BENCH_PUT_SUBSCRIPTIONS=k (PUT: creates go to k subscriptions in turn; default 1)
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi } from '../apps/api/src/api.js';
import { resolveDatabase } from '../devstack/services/database.js';
import { toolPaths } from '../scripts/toolchain.mjs';
import { openDatabase, type SqlDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { putSubscription } from '../store/subscriptions.js';
import { AesGcmPayloadCodec } from '../lib/payload-codec.js';
import { benchApiOptions, benchCallers, nextClusterPut, seedCluster, startBare } from './support/api-fixture.js';
import { summarize } from './support/cpu-profile.js';
import { loadRow, runLoad } from './support/http-load.js';

const seconds = Number(process.argv[2] ?? 10);
const caller = process.env.BENCH_CALLER === 'operator' ? 'operator' : 'arm';
const method = process.env.BENCH_METHOD === 'put' ? 'PUT' : 'GET';
/** PUT: the subscriptions the creates go to in turn (one: every create waits for the subscription's lock). */
const putSubscriptions = Number(process.env.BENCH_PUT_SUBSCRIPTIONS ?? 1);
const dir = mkdtempSync(join(tmpdir(), 'hcs-api-profile-'));
const resolved = await resolveDatabase({ name: `hcs_prof_${Date.now().toString(36)}`, pgliteDir: join(dir, 'db'), prefer: 'auto' });
const db = await openDatabase(resolved.config);
await migrate(db);
const versions = toolPaths().consulVersions;
const callers = await benchCallers();
// Store round trips per request: every query, and a transaction's BEGIN and COMMIT.
let roundTrips = 0;
const counted: SqlDatabase = {
  kind: db.kind,
  exec: (sql) => db.exec(sql),
  close: () => db.close(),
  query: (sql, params, options) => (roundTrips++, db.query(sql, params, options)),
  transaction: (fn) => (
    (roundTrips += 2),
    db.transaction((tx) => fn({ query: (sql, params, options) => (roundTrips++, tx.query(sql, params, options)) }))
  ),
};
const api = await startApi({
  db: counted,
  starter: {
    taskQueue: 'bench-no-temporal',
    start: async () => {},
    cancel: async () => {},
    find: async () => 'running' as const,
    ping: async () => {},
    close: async () => {},
  },
  payloadCodec: new AesGcmPayloadCodec([{ id: 'bench', key: randomBytes(32) }]),
  ...benchApiOptions(callers, versions),
});
const sub = randomUUID();
await putSubscription(db, { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
const headers = callers[caller];
const seeded = await seedCluster(api.restUrl, sub, headers, versions.at(-1)!);
const bare = await startBare(() => seeded.body);

// GET: 10 connections read the seeded cluster. PUT: 50 connections each create a new cluster
// (api-latency's PUT part), in a subscription of their own per run.
const connections = method === 'PUT' ? 50 : 10;
const load = async (url: string, durationSeconds: number) => {
  if (method === 'GET') return runLoad({ url: `${url}${seeded.path}`, method, headers, connections, durationSeconds });
  const subs = Array.from({ length: putSubscriptions }, () => randomUUID());
  for (const s of subs) await putSubscription(db, { subscriptionId: s, state: 'Registered', tenantId: null, properties: {} });
  return runLoad({ url, method, headers, connections, durationSeconds, next: nextClusterPut(subs, versions.at(-1)!) });
};
await load(api.restUrl, 2);
await load(bare.url, 2);

// BENCH_PROFILE=0: the same runs without the profiler (its sampling costs CPU of its own).
const profiling = process.env.BENCH_PROFILE !== '0';
const session = new Session();
session.connect();
await session.post('Profiler.enable');
if (profiling) await session.post('Profiler.start');
const tripsBefore = roundTrips;
const ours = await load(api.restUrl, seconds);
const trips = roundTrips - tripsBefore;
const profile = profiling ? (await session.post('Profiler.stop')).profile : undefined;
const bareRun = await load(bare.url, seconds);
session.disconnect();

const file = join(tmpdir(), `api-${method.toLowerCase()}-${caller}-${Date.now()}.cpuprofile`);
if (profile) writeFileSync(file, JSON.stringify(profile));
console.log(
  `# ${method}${method === 'PUT' ? ` over ${putSubscriptions} subscription(s)` : ''}; store: ${db.kind}; caller: ${caller}; ${seconds} s per run, ${connections} connections; profile of the API run: ${profile ? file : 'none'}`,
);
console.log(loadRow(`${method} cluster (ours)`, ours));
console.log(loadRow(`${method} cluster (bare)`, bareRun));
console.log(`ratio ours/bare ${(ours.rps / bareRun.rps).toFixed(3)}`);
console.log(
  `store round trips in the API run (its relay's included): ${trips}, ${(trips / Math.max(1, ours.ok + ours.non2xx)).toFixed(1)} per request`,
);
if (profile) console.log(summarize(profile as Parameters<typeof summarize>[0], 30));

await api.close();
bare.server.close();
await db.close();
await resolved.drop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
