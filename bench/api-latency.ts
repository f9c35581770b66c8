// API latency and throughput under a local load generator (autocannon), beside a bare node:http
// handler answering the same shapes in the same run, reported as ratios.
//   GET cluster:  read from the store, authenticated, ARM headers.
//   PUT accept:   validate, write resource + operation, start the workflow, answer 201.
// Run: npm run bench:api   (writes bench/results/api-latency.txt)
import { SecretBox } from '../lib/secret-box.js';
import { STAND_IN_WORKFLOW_TYPES } from '../contract/temporal.js';
import autocannon from 'autocannon';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { startApi } from '../apps/api/src/api.js';
import { sha256Hex } from '../apps/api/src/auth.js';
import { temporalOperationStarter } from '../lib/operation-starter.js';
import { AesGcmPayloadCodec } from '../lib/payload-codec.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { startStack } from '../devstack/stack.js';
import { repoRoot } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { putSubscription } from '../store/subscriptions.js';
import { migrate } from '../store/migrate.js';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);

interface Figures {
  p50: number;
  p99: number;
  rps: number;
  errors: number;
  non2xx: number;
}

async function load(
  url: string,
  o: { method: 'GET' | 'PUT'; headers: Record<string, string>; body?: () => string; path?: () => string },
): Promise<Figures> {
  const r = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: DURATION_S,
    requests: [
      {
        method: o.method,
        headers: o.headers,
        setupRequest: (req) => ({ ...req, ...(o.path ? { path: o.path() } : {}), ...(o.body ? { body: o.body() } : {}) }),
      },
    ],
  });
  return { p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, errors: r.errors, non2xx: r.non2xx };
}

const stackDir = mkdtempSync(join(tmpdir(), 'hcs-bench-'));
const stack = await startStack({
  dataDir: stackDir,
  persistent: false,
  database: { name: `hcs_bench_${Date.now().toString(36)}`, prefer: 'auto' },
});
const db = await openDatabase(stack.endpoints.database);
await migrate(db);
const payloadCodec = new AesGcmPayloadCodec([{ id: 'bench', key: randomBytes(32) }]);
const worker = await startWorker({ temporal: stack.endpoints.temporal, db, payloadCodec });
const starter = await temporalOperationStarter({
  temporal: stack.endpoints.temporal,
  payloadCodec,
  workflowTypes: STAND_IN_WORKFLOW_TYPES,
});
const token = `hcsop_bench_${randomUUID()}`;
const common = {
  auth: {
    armCertificateThumbprints: [],
    jwtIssuers: [],
    operatorTokens: [{ name: 'bench', sha256: sha256Hex(token), role: 'admin' as const, subscriptions: '*' as const }],
  },
  catalogue: stack.endpoints.tools.consulVersions.map((v) => ({ version: v, status: 'AVAILABLE' as const })),
  logger: pino({ level: 'silent' }),
  payloadCodec,
  sealer: new SecretBox([{ id: 'bench', key: randomBytes(32) }]),
  // Every PUT below creates a cluster in one subscription: far more than the default quota.
  limits: { clustersPerSubscription: Number.MAX_SAFE_INTEGER },
};
const api = await startApi({
  db,
  starter,
  ...common,
});

// The same API with a starter that only counts: separates our own cost from Temporal's
// (the dev server persists to SQLite, which serialises every workflow start).
let counted = 0;
const apiNoTemporal = await startApi({
  db,
  starter: {
    start: async () => void counted++,
    cancel: async () => {},
    find: async () => 'running' as const,
    ping: async () => {},
    close: async () => {},
  },
  ...common,
});

const sub = randomUUID();
await putSubscription(db, { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
const base = `/subscriptions/${sub}/resourceGroups/rg-bench/providers/HCS.Consul/clusters`;
const body = (cidr: string) =>
  JSON.stringify({ location: 'westeurope', properties: { consulVersion: stack.endpoints.tools.consulVersions.at(-1), network: { cidr } } });
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

// A resource to read.
await fetch(`${api.restUrl}${base}/read-me?api-version=2026-11-01`, { method: 'PUT', headers, body: body('10.0.0.0/16') });
const stored = await (await fetch(`${api.restUrl}${base}/read-me?api-version=2026-11-01`, { headers })).text();

// The bare handler: same answers, no validation, store, auth or workflow.
const bare = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    if (req.method === 'PUT') JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID() });
    res.end(stored);
  });
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const bareUrl = `http://127.0.0.1:${(bare.address() as { port: number }).port}`;

// Every PUT creates a new cluster with its own /24, so each one is a real accept.
let n = 0;
const nextPut = () => {
  n++;
  return { path: `${base}/c-${n}?api-version=2026-11-01`, cidr: `10.${1 + Math.floor(n / 250)}.${n % 250}.0/24` };
};
let pending = nextPut();
const putPath = () => {
  pending = nextPut();
  return pending.path;
};
const putBody = () => body(pending.cidr);

const getPath = `${base}/read-me?api-version=2026-11-01`;
const results = {
  getOurs: await load(`${api.restUrl}${getPath}`, { method: 'GET', headers }),
  getBare: await load(`${bareUrl}${getPath}`, { method: 'GET', headers }),
  putOurs: await load(api.restUrl, { method: 'PUT', headers, path: putPath, body: putBody }),
  putNoTemporal: await load(apiNoTemporal.restUrl, { method: 'PUT', headers, path: putPath, body: putBody }),
  putBare: await load(bareUrl, { method: 'PUT', headers, path: putPath, body: putBody }),
};
await apiNoTemporal.close();

await api.close();
await starter.close();
await worker.shutdown();
await db.close();
await stack.stop();
bare.close();
rmSync(stackDir, { recursive: true, force: true });

const row = (name: string, f: Figures) =>
  `${name.padEnd(26)} p50 ${String(f.p50).padStart(5)} ms   p99 ${String(f.p99).padStart(5)} ms   ${f.rps.toFixed(0).padStart(6)} req/s   errors ${f.errors}, non-2xx ${f.non2xx}`;
const ratio = (a: Figures, b: Figures) =>
  `p50 ${a.p50}/${b.p50} ms  p99 ${a.p99}/${b.p99} ms  throughput ${((a.rps / b.rps) * 100).toFixed(1)}% of bare`;
const report = [
  `# API latency benchmark`,
  `# command: npm run bench:api   date: ${new Date().toISOString()}`,
  `# ${CONNECTIONS} connections, ${DURATION_S} s per run, autocannon, loopback, store: ${stack.endpoints.database.kind}; the bare handler is node:http returning the same body`,
  row('GET cluster (ours)', results.getOurs),
  row('GET cluster (bare)', results.getBare),
  row('PUT accept (ours)', results.putOurs),
  row('PUT accept (no Temporal)', results.putNoTemporal),
  row('PUT accept (bare)', results.putBare),
  `GET ratio ours/bare: ${ratio(results.getOurs, results.getBare)}`,
  `PUT ratio ours/bare: ${ratio(results.putOurs, results.putBare)}`,
  `PUT ratio ours without the workflow start/bare: ${ratio(results.putNoTemporal, results.putBare)}`,
  `(latencies have 1 ms resolution; p50 0 means under 1 ms. Each PUT is a new cluster with its own /24, so the overlap check grows with the subscription.)`,
  '',
].join('\n');
process.stdout.write(report);
mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
writeFileSync(join(repoRoot, 'bench', 'results', 'api-latency.txt'), report);
process.exit(0);
