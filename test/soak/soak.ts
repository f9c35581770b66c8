// Time-compressed soak (`npm run soak`, not part of CI; issue 12, item 8). A 3-server cluster with
// 60-second server certificates (renewed at two thirds of their life, checked every 10 s) and a
// 20-second snapshot schedule keeping 3 automatic snapshots lives through HCS_SOAK_MINUTES
// (default 15, i.e. 15 certificate lifetimes) while an upgrade waits for a maintenance window
// hours away, holding no lock. Before that wait one operation is made to fail (a restore whose
// snapshot is gone when its workflow checks it); during it the worker is SIGKILLed three
// times and restarted a few seconds later. Throughout, a client writes KV every 200 ms and every
// server's certificate is read each second. Prints a report and writes it to
// test/soak/results/soak.txt; exits 1 when a goal is missed.
import { execFileSync } from 'node:child_process';
import { randomInt, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { snapshotBlobName } from '../../activities/snapshots.js';
import { stackForScript } from '../../devstack/script-stack.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { getOperation, listOperations, pendingOperation, type OperationRecord } from '../../store/operations.js';
import { deleteSnapshotRecord, listSnapshots } from '../../store/snapshots.js';
import { arm, clientAccess, clusterNames, createRootToken, followLocation, lifecycleConfig } from '../support/lifecycle.js';
import { reportLines, startWithWorkerProcess } from '../support/script-control-plane.js';
import { windowHoursAway } from '../support/windows.js';
import { certificateWatcher, kvWriter, loop } from './probes.js';

const MINUTES = Number(process.env.HCS_SOAK_MINUTES ?? 15);
const CERT_TTL_SECONDS = 60;
const SNAPSHOT_INTERVAL_SECONDS = 20;
const RETENTION = 3;
const KILLS = 3;
/** Whole run, stack start excluded. */
const CAP_MS = (MINUTES + 25) * 60_000;
/** lastSuccessfulSnapshotTime may be this old: three intervals, plus a worker killed, restarted and starting up. */
const SNAPSHOT_AGE_BOUND_MS = 3 * SNAPSHOT_INTERVAL_SECONDS * 1000 + 45_000;

const stack = await stackForScript({ name: 'soak', scriptUrl: import.meta.url });
const [OLDER, NEWER] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
if (OLDER === NEWER) throw new Error('the soak needs two Consul versions (an upgrade to wait)');
const config = {
  ...lifecycleConfig(stack, { serverCertTtlHours: CERT_TTL_SECONDS / 3600 }),
  snapshotIntervalSeconds: SNAPSHOT_INTERVAL_SECONDS,
};
const { cp, worker } = await startWithWorkerProcess(stack, config, { logName: 'soak-worker.log' });
const t0 = Date.now();
const uptimeStart = execFileSync('uptime').toString().trim();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(0).padStart(5)} s`;
const { lines, log } = reportLines();
const progress = (line: string) => console.log(`[soak ${clock()}] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const capTimer = setTimeout(() => {
  console.error(`[soak] the run passed its cap of ${CAP_MS / 60_000} min; stopping`);
  worker.stop();
  process.exit(1);
}, CAP_MS);
capTimer.unref();

const kills: string[] = [];
async function killWorker(why: string): Promise<void> {
  if (!(await worker.kill())) return;
  kills.push(`${clock()} (${why})`);
  progress(`worker SIGKILLed (${why})`);
}

/** An action on the cluster, asked again while a rotation or snapshot holds the lock (409). */
async function action(method: string, path: string, body?: unknown): Promise<{ status: number; body: string; location: string }> {
  for (let i = 0; ; i++) {
    const res = await arm(cp, method, path, body);
    if (res.status !== 409 || i >= 120) return { status: res.status, body: res.body, location: String(res.headers.location) };
    await sleep(500);
  }
}
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(500);
  }
}

worker.start();
const sub = randomUUID();
await cp.registerSubscription(sub);
const id = `/subscriptions/${sub}/resourceGroups/rg-soak/providers/HCS.Consul/clusters/soak-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
// The window opens two to three hours from now: the upgrade asked for below waits all run.
const put = await arm(cp, 'PUT', id, {
  location: 'westeurope',
  properties: {
    consulVersion: OLDER,
    serverCount: 3,
    network: { cidr: '10.88.0.0/16' },
    maintenanceWindow: windowHoursAway(),
    upgradePolicy: { automaticPatchUpgrades: false },
    snapshotPolicy: { intervalHours: 1, retentionCount: RETENTION },
  },
});
if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body}`);
const created = await followLocation(
  cp,
  String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'),
  1_200_000,
);
if (created.status !== 200) throw new Error(`create ended ${created.status}: ${created.body}`);
const createSeconds = Math.round((Date.now() - t0) / 1000);
progress(`created in ${createSeconds} s`);
const access = await clientAccess(cp, id);
const root = (await createRootToken(cp, id)).secretId;

// Everything watched from here to the end.
const kv = kvWriter({ addresses: access.addresses, caPem: access.caPem, token: root });
const certs = certificateWatcher({ addresses: access.addresses, caPem: access.caPem });
const view = {
  gets: 0,
  getFailures: 0,
  minExpiryMarginMs: Infinity,
  expiryInPast: [] as string[],
  maxSnapshotAgeMs: 0,
  snapshotTimes: new Set<string>(),
  maxRetained: 0,
  aboveRetentionMs: 0,
  longestAboveRetentionMs: 0,
  completedAutomatic: new Set<string>(),
};
const upgrade: { id?: string } = {};
const upgradeStatuses = new Set<string>();
let aboveSince: number | null = null;
const watcher = loop(async () => {
  const now = Date.now();
  try {
    view.gets++;
    const res = await arm(cp, 'GET', id);
    if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
    const p = (JSON.parse(res.body) as { properties: { earliestServerCertificateExpiry?: string; lastSuccessfulSnapshotTime?: string } })
      .properties;
    if (p.earliestServerCertificateExpiry) {
      const margin = Date.parse(p.earliestServerCertificateExpiry) - now;
      view.minExpiryMarginMs = Math.min(view.minExpiryMarginMs, margin);
      if (margin <= 0) view.expiryInPast.push(`${new Date(now).toISOString()} ${p.earliestServerCertificateExpiry}`);
    }
    if (p.lastSuccessfulSnapshotTime) {
      view.snapshotTimes.add(p.lastSuccessfulSnapshotTime);
      view.maxSnapshotAgeMs = Math.max(view.maxSnapshotAgeMs, now - Date.parse(p.lastSuccessfulSnapshotTime));
    }
  } catch {
    view.getFailures++;
  }
  const automatic = (await listSnapshots(cp.db, key)).filter((s) => s.kind === 'AUTOMATIC' && s.state === 'COMPLETED');
  for (const s of automatic) view.completedAutomatic.add(s.snapshotId);
  view.maxRetained = Math.max(view.maxRetained, automatic.length);
  if (automatic.length > RETENTION) aboveSince ??= now;
  else if (aboveSince !== null) {
    view.aboveRetentionMs += now - aboveSince;
    view.longestAboveRetentionMs = Math.max(view.longestAboveRetentionMs, now - aboveSince);
    aboveSince = null;
  }
  if (upgrade.id) upgradeStatuses.add((await getOperation(cp.db, upgrade.id))?.status ?? 'absent');
}, 2_000);

// The operation made to fail: a restore accepted while the snapshot was COMPLETED, whose workflow
// finds it gone (its record and blob removed behind the API's back while the worker was down) and
// ends Failed with SnapshotNotFound. A restore failing on a dependency would instead retry for about three minutes
// holding the one-operation lock, longer than a 60-second certificate's last third.
const manual = await action('POST', `${id}/createSnapshot`, { name: 'soak-manual' });
if (manual.status !== 202) throw new Error(`createSnapshot answered ${manual.status}: ${manual.body}`);
const manualDone = await followLocation(cp, manual.location, 300_000);
if (manualDone.status !== 200) throw new Error(`createSnapshot ended ${manualDone.status}: ${manualDone.body}`);
const snap = (await listSnapshots(cp.db, key)).find((s) => s.kind === 'MANUAL' && s.name === 'soak-manual')!.snapshotId;
let restore: OperationRecord | undefined;
for (let attempt = 0; !restore; attempt++) {
  await until(
    'a moment without an operation holding the cluster',
    async () => ((await pendingOperation(cp.db, key)) ? undefined : true),
    120_000,
  );
  await killWorker('to stage the failing restore');
  const res = await arm(cp, 'POST', `${id}/restoreSnapshot`, { snapshotId: snap, takeSnapshotFirst: false });
  if (res.status === 202) {
    restore = (await listOperations(cp.db, key)).find((o) => o.kind === 'restore');
    const names = await clusterNames(cp.db, key);
    const blobs = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
    await blobs.getContainerClient(names.container).deleteBlob(snapshotBlobName(snap), { deleteSnapshots: 'include' });
    await deleteSnapshotRecord(cp.db, key, snap);
  } else if (res.status !== 409 || attempt > 5) throw new Error(`restoreSnapshot answered ${res.status}: ${res.body}`);
  await sleep(randomInt(2_000, 4_000));
  worker.start();
}
const restoreEnd = await until(
  'the restore to end',
  async () => {
    const op = await getOperation(cp.db, restore.operationId);
    return op && ['Succeeded', 'Failed', 'Canceled'].includes(op.status) ? op : undefined;
  },
  300_000,
);
progress(`restore ended ${restoreEnd.status}: ${restoreEnd.error?.code ?? '-'}`);

// The upgrade that waits for its window all run.
const up = await action('POST', `${id}/upgrade`, { consulVersion: NEWER });
if (up.status !== 202) throw new Error(`upgrade answered ${up.status}: ${up.body}`);
const upgradeId = (upgrade.id = (await listOperations(cp.db, key)).find((o) => o.kind === 'upgrade')!.operationId);
const blocked = await arm(cp, 'POST', `${id}/createSnapshot`, { name: 'refused' });
const waitStart = Date.now();
progress(`upgrade ${upgradeId} requested; a manual snapshot now answers ${blocked.status}`);
const killAt = [0.2, 0.5, 0.8].slice(0, KILLS).map((f) => waitStart + f * MINUTES * 60_000 + randomInt(-20_000, 20_000));
const downMs: number[] = [];
let nextProgress = Date.now() + 60_000;
while (Date.now() < waitStart + MINUTES * 60_000) {
  if (killAt.length && Date.now() >= killAt[0]!) {
    killAt.shift();
    const down = Date.now();
    await killWorker(`during the wait, step ${(await getOperation(cp.db, upgradeId))?.step ?? '-'}`);
    await sleep(randomInt(3_000, 6_000));
    worker.start();
    downMs.push(Date.now() - down);
  }
  if (Date.now() >= nextProgress) {
    nextProgress += 60_000;
    progress(
      `KV ${kv.stats.rounds} rounds, ${kv.stats.failedRounds} failed (longest ${kv.stats.longestWindowMs} ms); ` +
        `certificates ${certs.stats.seen.length}, expired seen ${certs.stats.expiredSeen.length}; automatic snapshots ${view.completedAutomatic.size}, ` +
        `retained max ${view.maxRetained}; upgrade ${[...upgradeStatuses].join('/')}`,
    );
  }
  await sleep(500);
}
await Promise.all([kv.stop(), certs.stop(), watcher.stop()]);
const upgradeFinal = (await getOperation(cp.db, upgradeId))!;
const ops = await listOperations(cp.db, key, 5_000);
const count = (kind: string, pred: (o: OperationRecord) => boolean = () => true) => {
  const of = ops.filter((o) => o.kind === kind && pred(o));
  const by = new Map<string, number>();
  for (const o of of) by.set(o.status, (by.get(o.status) ?? 0) + 1);
  return [...by].map(([s, n]) => `${n} ${s}`).join(', ') || 'none';
};
const failedOps = ops.filter((o) => o.status === 'Failed');
const retainedNow = (await listSnapshots(cp.db, key)).filter((s) => s.kind === 'AUTOMATIC' && s.state === 'COMPLETED').length;

// Leave nothing behind: the delete also ends the waiting upgrade.
const del = await action('DELETE', id);
const deleted = del.status === 202 ? (await followLocation(cp, del.location, 600_000)).status : del.status;
await killWorker('end of run');
await cp.close();

const margins = certs.stats.replacementMarginsMs;
const minMargin = margins.length ? Math.min(...margins) : NaN;
const goals = {
  'no KV failure window over 5 s': kv.stats.longestWindowMs <= 5_000,
  'no certificate seen expired or unverifiable': certs.stats.expiredSeen.length === 0 && minMargin > 0,
  'GET earliestServerCertificateExpiry always in the future': view.expiryInPast.length === 0 && view.minExpiryMarginMs > 0,
  [`lastSuccessfulSnapshotTime never older than ${SNAPSHOT_AGE_BOUND_MS / 1000} s`]: view.maxSnapshotAgeMs <= SNAPSHOT_AGE_BOUND_MS,
  [`completed automatic snapshots never above ${RETENTION} + 1 (the newest, before retention runs)`]: view.maxRetained <= RETENTION + 1,
  'the one failed operation is the restore, failed by SnapshotNotFound':
    failedOps.length === 1 && failedOps[0]!.operationId === restoreEnd.operationId && restoreEnd.error?.code === 'SnapshotNotFound',
  'the upgrade stayed Scheduled all run': upgradeFinal.status === 'Scheduled' && [...upgradeStatuses].every((s) => s === 'Scheduled'),
  'snapshots kept coming (one per interval, give or take the kills)':
    view.completedAutomatic.size >= Math.floor((MINUTES * 60) / SNAPSHOT_INTERVAL_SECONDS / 2),
  [`${KILLS} worker kills during the wait`]: downMs.length === KILLS,
};
log(`# Time-compressed soak (issue 12, item 8)`);
log(`# command: npm run soak    date: ${new Date(t0).toISOString()}`);
log(`# uptime at the start: ${uptimeStart}`);
log(`# uptime at the end:   ${execFileSync('uptime').toString().trim()}`);
log(
  `cluster: 3 servers, Consul ${OLDER}; server certificates ${CERT_TTL_SECONDS} s, snapshot interval ${SNAPSHOT_INTERVAL_SECONDS} s, retentionCount ${RETENTION}`,
);
log(
  `create: ${createSeconds} s (stack start excluded); whole run ${((Date.now() - t0) / 60_000).toFixed(1)} min; wait with the upgrade Scheduled ${MINUTES} min`,
);
log(
  `KV client: ${kv.stats.rounds} write rounds every 200 ms, ${kv.stats.failedRounds} failed (no server accepted), ${kv.stats.failedOver} accepted by another server after the first refused; longest failure window ${kv.stats.longestWindowMs} ms${kv.stats.longestWindowAt ? ` (from ${kv.stats.longestWindowAt})` : ''}`,
);
for (const f of kv.stats.failures) log(`  failed round: ${f}`);
log(
  `certificates: ${certs.stats.seen.length} distinct server certificates seen in ${certs.stats.probes} handshakes (${certs.stats.unreachable} unreachable); ` +
    `${margins.length} replacements seen, minimum time left on the old certificate when its replacement was first seen ${(minMargin / 1000).toFixed(1)} s, ` +
    `median ${margins.length ? (margins.sort((a, b) => a - b)[Math.floor(margins.length / 2)]! / 1000).toFixed(1) : '-'} s; seen expired or unverifiable: ${certs.stats.expiredSeen.length}`,
);
for (const e of certs.stats.expiredSeen.slice(0, 10)) log(`  expired: ${e}`);
log(
  `GET: ${view.gets} reads (${view.getFailures} failed); earliestServerCertificateExpiry at least ${(view.minExpiryMarginMs / 1000).toFixed(1)} s ahead; ` +
    `lastSuccessfulSnapshotTime took ${view.snapshotTimes.size} values, at most ${(view.maxSnapshotAgeMs / 1000).toFixed(1)} s old`,
);
log(`rotations: ${count('rotate')}`);
log(
  `automatic snapshots: operations ${count('snapshot', (o) => o.correlationId?.startsWith('snapshots/') === true)}; ${view.completedAutomatic.size} distinct COMPLETED seen; ` +
    `retained (COMPLETED AUTOMATIC) at most ${view.maxRetained}, ${retainedNow} at the end; above ${RETENTION} for ${(view.aboveRetentionMs / 1000).toFixed(0)} s in all, longest ${(view.longestAboveRetentionMs / 1000).toFixed(0)} s (2-s sampling)`,
);
log(
  `worker kills: ${kills.length}: ${kills.join('; ')}; down ${downMs.map((d) => `${(d / 1000).toFixed(1)} s`).join(', ')} during the wait`,
);
log(
  `failed operation: restore ${restoreEnd.operationId}: ${restoreEnd.status} ${restoreEnd.error?.code ?? ''}: ${restoreEnd.error?.message ?? ''}`,
);
log(
  `other operations failed: ${
    failedOps
      .filter((o) => o.operationId !== restoreEnd.operationId)
      .map((o) => `${o.kind} ${o.error?.code}`)
      .join(', ') || 'none'
  }`,
);
log(
  `upgrade: ${upgradeFinal.status} at the end (step: ${upgradeFinal.step ?? '-'}); statuses seen ${[...upgradeStatuses].join(', ')}; a manual snapshot asked during the wait answered ${blocked.status}`,
);
log(`delete at the end: ${deleted}`);
for (const [goal, met] of Object.entries(goals)) log(`${met ? 'MET    ' : 'NOT MET'} ${goal}`);
mkdirSync(join(repoRoot, 'test', 'soak', 'results'), { recursive: true });
writeFileSync(join(repoRoot, 'test', 'soak', 'results', 'soak.txt'), lines.join('\n') + '\n');
process.exit(Object.values(goals).every(Boolean) ? 0 : 1);
