// Where a GET's time goes: the benchmark's GET part (bench/api-latency.ts) under V8's CPU
// profiler (the profiler node --cpu-prof uses, started for the load window only), against the
// API on the store alone - a GET reads no workflow, so no Temporal - and beside the bare handler.
// Prints the top of the profile (bench/support/cpu-profile.ts) and writes the .cpuprofile.
// Run: npx tsx bench/api-get-profile.ts [seconds]   BENCH_CALLER=arm|operator (default arm)
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startApi } from '../apps/api/src/api.js';
import { resolveDatabase } from '../devstack/services/database.js';
import { toolPaths } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { putSubscription } from '../store/subscriptions.js';
import { AesGcmPayloadCodec } from '../lib/payload-codec.js';
import { benchApiOptions, benchCallers, seedCluster, startBare } from './support/api-fixture.js';
import { summarize } from './support/cpu-profile.js';
import { loadRow, runLoad } from './support/http-load.js';

const seconds = Number(process.argv[2] ?? 10);
const caller = process.env.BENCH_CALLER === 'operator' ? 'operator' : 'arm';
const dir = mkdtempSync(join(tmpdir(), 'hcs-get-profile-'));
const resolved = await resolveDatabase({ name: `hcs_prof_${Date.now().toString(36)}`, pgliteDir: join(dir, 'db'), prefer: 'auto' });
const db = await openDatabase(resolved.config);
await migrate(db);
const versions = toolPaths().consulVersions;
const callers = await benchCallers();
const api = await startApi({
  db,
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

const get = (url: string, durationSeconds: number) =>
  runLoad({ url: `${url}${seeded.path}`, method: 'GET', headers, connections: 10, durationSeconds });
await get(api.restUrl, 2);
await get(bare.url, 2);

// BENCH_PROFILE=0: the same runs without the profiler (its sampling costs CPU of its own).
const profiling = process.env.BENCH_PROFILE !== '0';
const session = new Session();
session.connect();
await session.post('Profiler.enable');
if (profiling) await session.post('Profiler.start');
const ours = await get(api.restUrl, seconds);
const profile = profiling ? (await session.post('Profiler.stop')).profile : undefined;
const bareRun = await get(bare.url, seconds);
session.disconnect();

const file = join(tmpdir(), `api-get-${caller}-${Date.now()}.cpuprofile`);
if (profile) writeFileSync(file, JSON.stringify(profile));
console.log(
  `# store: ${db.kind}; caller: ${caller}; ${seconds} s per run, 10 connections; profile of the API run: ${profile ? file : 'none'}`,
);
console.log(loadRow('GET cluster (ours)', ours));
console.log(loadRow('GET cluster (bare)', bareRun));
console.log(`ratio ours/bare ${(ours.rps / bareRun.rps).toFixed(3)}`);
if (profile) console.log(summarize(profile as Parameters<typeof summarize>[0], 30));

await api.close();
bare.server.close();
await db.close();
await resolved.drop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
