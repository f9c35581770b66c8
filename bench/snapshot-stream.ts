// Consul snapshot streaming: a real Consul dev agent (HTTPS, ACLs) holding over 200 MB of
// incompressible KV data is saved into Azurite through saveSnapshot (hash + segmented AES-GCM +
// block upload), beside a raw upload of the same number of bytes with the same uploadStream
// settings in the same run, and restored. Each step reports wall time, MB/s and this process's
// RSS before and at its peak (sampled every 50 ms): memory must stay far below the snapshot size.
// Run: npm run bench:snapshot   (writes bench/results/snapshot-stream.txt)
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  restoreSnapshot,
  saveSnapshot,
  type SnapshotEndpoint,
  UPLOAD_BLOCK_BYTES,
  UPLOAD_CONCURRENCY,
} from '../activities/consul-snapshots.js';
import { encryptStream } from '../lib/segmented-aes-gcm.js';
import { startAzurite } from '../devstack/services/azurite.js';
import { startDevConsul } from '../devstack/services/dev-consul.js';
import { Supervisor } from '../devstack/supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { repoRoot, toolPaths } from '../scripts/toolchain.mjs';

const VALUE_BYTES = 500 * 1024; // under Consul's 512 KiB kv_max_value_size
const VALUES = Number(process.env.BENCH_SNAPSHOT_VALUES ?? 440); // 440 x 500 KiB = 225 MB
// A smaller BENCH_SNAPSHOT_VALUES is for a quick try of the script; the recorded run uses the default.
const MIN_SNAPSHOT_BYTES = process.env.BENCH_SNAPSHOT_VALUES ? 0 : 200_000_000;
const MB = 1_000_000;

// The SDK trusts Azurite's CA only through NODE_EXTRA_CA_CERTS, which Node reads at start-up:
// the first process makes the CA, then runs the bench in a child that trusts it (and may call gc).
const stateDir = process.env.HCS_BENCH_DIR ?? mkdtempSync(join(tmpdir(), 'hcs-bench-snapshot-'));
const azuriteTls = ensureDevCertificate(join(stateDir, 'azurite', 'tls'), ['127.0.0.1', 'localhost']);
if (process.env.HCS_BENCH_DIR === undefined) {
  const child = spawn(process.execPath, ['--expose-gc', ...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: azuriteTls.caCertFile, HCS_BENCH_DIR: stateDir },
  });
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  rmSync(stateDir, { recursive: true, force: true });
  process.exit(code);
}

interface Measured<T> {
  ms: number;
  rssBefore: number;
  rssPeak: number;
  value: T;
}

/** Runs fn once, sampling this process's RSS every 50 ms from a collected heap. */
async function measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const t0 = performance.now();
  try {
    const value = await fn();
    return { ms: performance.now() - t0, rssBefore, rssPeak: Math.max(rssPeak, process.memoryUsage().rss), value };
  } finally {
    clearInterval(sampler);
  }
}

function consulCall(consul: SnapshotEndpoint, method: string, path: string, body?: Buffer): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(path, consul.url),
      {
        method,
        ca: consul.caPem,
        headers: { 'x-consul-token': consul.token, ...(body ? { 'content-length': String(body.length) } : {}) },
      },
      (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `total` bytes from a random 4 MiB pattern, in 1 MiB chunks: what the raw upload sends. */
function patternStream(total: number): Readable {
  const pattern = randomBytes(4 * 1024 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(1024 * 1024, total - sent);
      const offset = sent % pattern.length;
      this.push(offset + n <= pattern.length ? pattern.subarray(offset, offset + n) : pattern.subarray(0, n));
      sent += n;
    },
  });
}

const loadAtStart = loadavg()[0]!;
const supervisor = new Supervisor({ stateDir: join(stateDir, 'supervisor') });
try {
  const tools = toolPaths();
  const consulVersion = tools.consulVersions.at(-1)!;
  const blob = await startAzurite(supervisor, { dataDir: join(stateDir, 'azurite') });
  const service = new BlobServiceClient(blob.url, new StorageSharedKeyCredential(blob.accountName, blob.accountKey));
  const container = service.getContainerClient(`bench-snapshots-${randomUUID()}`);
  await container.create();

  const consul: SnapshotEndpoint = await startDevConsul(supervisor, {
    name: 'consul-bench',
    binary: tools.consul[consulVersion]!,
    dir: join(stateDir, 'consul'),
  });

  // Incompressible values, four writers at a time.
  const tLoad = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = next++; i < VALUES; i = next++) {
        const res = await consulCall(consul, 'PUT', `/v1/kv/bench/value-${i}`, randomBytes(VALUE_BYTES));
        if (res.status !== 200) throw new Error(`KV write ${i} answered ${res.status}`);
      }
    }),
  );
  const loadMs = performance.now() - tLoad;

  const key = randomBytes(32);
  const consulOnly = await measure(async () => {
    const res = await consulCall(consul, 'GET', '/v1/snapshot');
    if (res.status !== 200) throw new Error(`GET /v1/snapshot answered ${res.status}`);
    return res.bytes;
  });
  const rounds: Array<{ save: Measured<Awaited<ReturnType<typeof saveSnapshot>>>; raw: Measured<number> }> = [];
  for (let round = 1; round <= 2; round++) {
    const save = await measure(() => saveSnapshot({ consul, container, blobName: `round-${round}.snap`, key }));
    if (save.value.sizeBytes < MIN_SNAPSHOT_BYTES) {
      throw new Error(`the snapshot has only ${save.value.sizeBytes} bytes; the bench needs at least ${MIN_SNAPSHOT_BYTES}`);
    }
    const raw = await measure(async () => {
      const total = save.value.storedBytes;
      await container.getBlockBlobClient(`raw-${round}.bin`).uploadStream(patternStream(total), UPLOAD_BLOCK_BYTES, UPLOAD_CONCURRENCY);
      return total;
    });
    rounds.push({ save, raw });
  }
  // A value deleted after the save must be back after the restore.
  if ((await consulCall(consul, 'DELETE', '/v1/kv/bench/value-0')).status !== 200) throw new Error('could not delete bench/value-0');
  const restore = await measure(() => restoreSnapshot({ consul, container, blobName: 'round-1.snap', key }));
  const check = await consulCall(consul, 'GET', '/v1/kv/bench/value-0?raw');
  if (check.status !== 200 || check.bytes !== VALUE_BYTES) {
    throw new Error(`after the restore bench/value-0 reads ${check.status} with ${check.bytes} bytes`);
  }
  await container.delete();
  // Last, so its garbage (1 MiB buffers at CPU speed) does not raise the baseline of the streaming steps.
  const cipherOnly = await measure(async () => {
    let bytes = 0;
    const sink = new Writable({
      write(c: Buffer, _e, cb) {
        bytes += c.length;
        cb();
      },
    });
    await pipeline(patternStream(consulOnly.value), encryptStream(key), sink);
    return bytes;
  });

  const mbps = (bytes: number, ms: number) => (bytes / MB / (ms / 1000)).toFixed(1);
  const mem = (m: Measured<unknown>) =>
    `RSS before ${(m.rssBefore / MB).toFixed(0)} MB, peak ${(m.rssPeak / MB).toFixed(0)} MB (+${((m.rssPeak - m.rssBefore) / MB).toFixed(0)} MB)`;
  const row = (name: string, bytes: number, m: Measured<unknown>) =>
    `${name.padEnd(34)} ${(m.ms / 1000).toFixed(2).padStart(6)} s  ${mbps(bytes, m.ms).padStart(6)} MB/s   ${mem(m)}`;
  const snapshotBytes = rounds[0]!.save.value.sizeBytes;
  const storedBytes = rounds[0]!.save.value.storedBytes;
  const peakIncrease = Math.max(...[restore, ...rounds.flatMap((r) => [r.save, r.raw])].map((m) => m.rssPeak - m.rssBefore));
  const report = [
    `# Consul snapshot streaming benchmark`,
    `# command: npm run bench:snapshot   date: ${execFileSync('date', ['-u']).toString().trim()}`,
    `# ${cpus().length} cores, Node ${process.version}; Consul ${consulVersion} dev agent (HTTPS, ACLs on), Azurite over HTTPS, all on loopback`,
    `# 1-minute load average at start ${loadAtStart.toFixed(2)}, at end ${loadavg()[0]!.toFixed(2)} (other work on the machine shows here)`,
    `# uploads: uploadStream with ${UPLOAD_BLOCK_BYTES / 1024 / 1024} MiB blocks, ${UPLOAD_CONCURRENCY} buffers; MB = 10^6 bytes; RSS is this process only (Consul and Azurite run apart)`,
    `KV data: ${VALUES} values x ${VALUE_BYTES / 1024} KiB random bytes (${((VALUES * VALUE_BYTES) / MB).toFixed(0)} MB), written in ${(loadMs / 1000).toFixed(1)} s`,
    `snapshot: ${snapshotBytes} bytes (${(snapshotBytes / MB).toFixed(1)} MB) plaintext, ${storedBytes} bytes stored encrypted`,
    row('Consul GET /v1/snapshot alone', consulOnly.value, consulOnly),
    ...rounds.flatMap((r, i) => [
      row(`round ${i + 1}: saveSnapshot -> Azurite`, r.save.value.sizeBytes, r.save),
      row(`round ${i + 1}: raw upload, same bytes`, r.raw.value, r.raw),
      `round ${i + 1}: saveSnapshot takes ${(r.save.ms / r.raw.ms).toFixed(2)}x the raw upload's time (${((r.raw.ms / r.save.ms) * 100).toFixed(0)}% of its throughput), ${(r.save.ms / consulOnly.ms).toFixed(2)}x Consul's GET alone`,
    ]),
    row('restoreSnapshot Azurite -> Consul', restore.value.sizeBytes, restore),
    `largest RSS increase of a save, raw upload or restore: ${(peakIncrease / MB).toFixed(0)} MB, ${((peakIncrease / snapshotBytes) * 100).toFixed(1)}% of the snapshot size`,
    row('encrypt alone (in memory, no I/O)', cipherOnly.value, cipherOnly),
    `(the in-memory encrypt makes garbage faster than the collector hands memory back, which is most of its RSS increase)`,
    '',
  ].join('\n');
  process.stdout.write(report);
  mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
  writeFileSync(join(repoRoot, 'bench', 'results', 'snapshot-stream.txt'), report);
} finally {
  await supervisor.stop();
}
process.exit(0);
