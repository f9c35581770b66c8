// Dependency-outage chaos run (`npm run chaos:deps`, not part of CI). For each dependency - OpenBao,
// Azurite, the ARM twin (429 with Retry-After, then 503), Pebble, PostgreSQL (the stack's own
// server, stopped and started again) and the Temporal server - a create and then a forced upgrade
// run while that dependency is out for HCS_CHAOS_OUTAGE_SECONDS (default 60), injected when the
// operation reaches a step that uses it. Each operation must end Succeeded after recovery with
// exactly the expected servers (raft voters, twin instances, all on the new version after the
// upgrade), one resource group, one PKI mount with one issuer, one container, one operation of
// each kind and one pre-upgrade snapshot; the cluster is then deleted. Writes the report to
// test/chaos/results/deps.txt.
//
// HCS_CHAOS_SERVERS (default 1: the outages dominate, and 3-server clusters on two loaded cores
// only make the run longer), HCS_CHAOS_FAULTS (comma-separated subset of the names below).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackForScript } from '../../devstack/script-stack.js';
import { serviceControl, type ControllableService } from '../../devstack/service-control.js';
import { httpCall } from '../../lib/http.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { getClusterServers } from '../../store/clusters.js';
import { getOperation, listOperations, type OperationRecord } from '../../store/operations.js';
import { arm, clusterNames, leftovers, lifecycleConfig } from '../support/lifecycle.js';
import { reportLines, startWithWorkerProcess } from '../support/script-control-plane.js';
import { countOwned, raftVoters, retriedActivities, serverVersions } from './deps-checks.js';

const SERVERS = Number(process.env.HCS_CHAOS_SERVERS ?? 1);
const OUTAGE_MS = Number(process.env.HCS_CHAOS_OUTAGE_SECONDS ?? 60) * 1000;
const OPERATION_DEADLINE_MS = 20 * 60_000;

interface Fault {
  name: string;
  /** Inject when the operation's step starts with one of these (the dependency is used next). */
  createAt: string[];
  upgradeAt: string[];
  down(): Promise<void>;
  up(): Promise<void>;
  /** What the fault answered, when the dependency can tell (the twin counts its 429s and 503s). */
  evidence?(): Promise<string>;
}

const stack = await stackForScript({ name: 'chaosdeps', scriptUrl: import.meta.url, chaos: true });
const control = serviceControl();
const [OLDER, NEWER] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];

const twinFault = (method: string, body?: unknown) =>
  httpCall(`${stack.cloud.url}/_test/faults`, {
    method,
    ca: stack.cloud.caCertPem,
    headers: { 'content-type': 'application/json', 'x-hcs-fault-admin': stack.cloud.controlPlaneIdentity.header },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
const service = (name: string, s: ControllableService, createAt: string[], upgradeAt: string[]): Fault => ({
  name,
  createAt,
  upgradeAt,
  down: () => control.stop(s),
  up: () => control.start(s),
});
const half = Math.round(OUTAGE_MS / 2000);
const ALL: Fault[] = [
  // Vault: transit for the secrets, the cluster's PKI, server certificates; the upgrade's snapshot
  // reads the management token through transit.
  // (A parallel create records pki while the secrets, PKI and container are made at once.)
  service('openbao', 'openbao', ['secrets', 'pki'], ['plan', 'snapshot']),
  // Blob: the container and every published file (the servers read theirs with their identity); the upgrade's snapshot and manifests.
  service('azurite', 'azurite', ['pki', 'retire-servers', 'infrastructure'], ['plan', 'snapshot']),
  {
    name: 'arm-429-then-503',
    createAt: ['infrastructure'],
    upgradeAt: ['plan', 'snapshot', 'upgrade'],
    down: async () => {
      // The outage runs inside the twin: 429 + Retry-After for the first half, 503 for the rest.
      const res = await twinFault('PUT', { throttleSeconds: half, unavailableSeconds: half, retryAfterSeconds: 5 });
      if (res.status !== 200) throw new Error(`twin fault API answered ${res.status}: ${res.body}`);
    },
    up: async () => void (await twinFault('DELETE')),
    evidence: async () => {
      const s = JSON.parse((await twinFault('GET')).body) as { answered: { throttled: number; unavailable: number } };
      return `twin answered ${s.answered.throttled}x 429, ${s.answered.unavailable}x 503`;
    },
  },
  // ACME: the public endpoint's certificate (the create asks for a public endpoint); the order
  // starts right after publish-configuration is recorded (beside the servers' files and the
  // health gate, workflows/converge.ts), so the outage catches it mid-order.
  service('pebble', 'pebble', ['publish-configuration'], ['plan', 'snapshot', 'upgrade']),
  service('postgres', 'postgres', ['infrastructure'], ['snapshot', 'upgrade']),
  service('temporal', 'temporal', ['infrastructure'], ['snapshot', 'upgrade']),
];
const only = process.env.HCS_CHAOS_FAULTS?.split(',').map((s) => s.trim());
const FAULTS = only ? ALL.filter((f) => only.some((o) => f.name.startsWith(o))) : ALL;

const config = lifecycleConfig(stack);
const { lines, log } = reportLines();
const { cp, worker } = await startWithWorkerProcess(stack, config, {
  logName: 'chaos-deps-worker.log',
  onUnexpectedExit: (how) => {
    log(`  !! the worker exited on its own (${how}); started again in 2 s`);
    return 'restart';
  },
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const secs = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** The store may be the thing that is down: a failed read is "unknown yet", not an error. */
async function readOperation(id: string): Promise<OperationRecord | undefined> {
  return getOperation(cp.db, id).catch(() => undefined);
}

/**
 * Waits for the operation to reach a trigger step, takes the dependency down for OUTAGE_MS, brings
 * it back, and waits for the operation's end.
 */
async function underOutage(operationId: string, fault: Fault, at: string[], phase: string) {
  const started = Date.now();
  let injected: { at: number; step: string; restored: number } | undefined;
  let lastStep = '-';
  for (;;) {
    if (Date.now() - started > OPERATION_DEADLINE_MS)
      throw new Error(`${phase} did not finish in ${secs(OPERATION_DEADLINE_MS)} (step ${lastStep})`);
    const op = await readOperation(operationId);
    if (op) lastStep = op.step ?? '-';
    if (op && ['Succeeded', 'Failed', 'Canceled'].includes(op.status)) {
      if (!injected) log(`  ${phase}: ended (${op.status}) before any trigger step ${at.join('/')} was seen: NOT HIT`);
      return { op, ms: Date.now() - started, injected };
    }
    if (!injected && op && at.some((s) => lastStep.startsWith(s))) {
      const t = Date.now() - started;
      await fault.down();
      log(`  ${phase}: ${fault.name} down at ${secs(t)}, step ${lastStep} (${op.percentComplete}%)`);
      await sleep(OUTAGE_MS);
      const during = (await readOperation(operationId))?.step ?? '(store unreadable)';
      await fault.up();
      const restored = Date.now() - started;
      injected = { at: t, step: lastStep, restored };
      log(`  ${phase}: ${fault.name} back at ${secs(restored)} (down ${secs(restored - t)}); step then ${during}`);
      continue;
    }
    await sleep(injected ? 1_000 : 200);
  }
}

let failures = 0;
const runStarted = Date.now();
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
log(`# Dependency outages: ${FAULTS.map((f) => f.name).join(', ')}; ${secs(OUTAGE_MS)} each, mid-create and mid-upgrade`);
log(`# command: ${only ? `HCS_CHAOS_FAULTS=${only.join(',')} ` : ''}npm run chaos:deps    date: ${new Date().toISOString()}`);
log(`# clusters of ${SERVERS} server(s), Consul ${OLDER} -> ${NEWER} (forced upgrade); store: the stack's own PostgreSQL`);
log(`# machine at start: ${uptime()}`);
worker.start();
try {
  for (const [i, fault] of FAULTS.entries()) {
    const faultStarted = Date.now();
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const id = `/subscriptions/${sub}/resourceGroups/rg-chaos/providers/HCS.Consul/clusters/deps-${i + 1}-${randomUUID().slice(0, 4)}`;
    const key = id.toLowerCase();
    log(`${fault.name}: ${id}`);
    const put = await arm(cp, 'PUT', id, {
      location: 'westeurope',
      properties: { consulVersion: OLDER, serverCount: SERVERS, publicEndpoint: true, network: { cidr: `10.${80 + i}.0.0/16` } },
    });
    if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body}`);
    const [createOp] = await listOperations(cp.db, key);
    const created = await underOutage(createOp!.operationId, fault, fault.createAt, 'create');
    const createEvidence = fault.evidence ? await fault.evidence() : '';
    const servers = await getClusterServers(cp.db, key);
    const addresses = servers.map((s) => s.address);
    const ok = created.op.status === 'Succeeded';
    const voters = ok ? await raftVoters(stack, cp.db, key, addresses) : 0;
    const owned = await countOwned(stack, cp.db, key);
    const createRetries = await retriedActivities(stack, created.op.workflowId);
    const createOk =
      ok &&
      servers.length === SERVERS &&
      voters === SERVERS &&
      owned.instances === SERVERS &&
      owned.resourceGroups === 1 &&
      owned.pkiMounts === 1 &&
      owned.pkiIssuers === 1 &&
      owned.containers === 1 &&
      owned.operations.create === 1;
    log(
      `  create: ${created.op.status} in ${secs(created.ms)}${created.op.error ? ` (${created.op.error.code}: ${created.op.error.message})` : ''}; servers ${servers.length}, raft voters ${voters}, twin instances ${owned.instances}, resource groups ${owned.resourceGroups}, PKI mounts ${owned.pkiMounts} (issuers ${owned.pkiIssuers}), containers ${owned.containers}, create operations ${owned.operations.create ?? 0} -> ${createOk ? 'OK' : 'WRONG'}`,
    );
    log(`  create: retried activities: ${createRetries.join(', ') || 'none'}${createEvidence ? `; ${createEvidence}` : ''}`);

    let upgradeOk = false;
    if (createOk) {
      const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: NEWER, force: true });
      if (up.status !== 202) throw new Error(`upgrade answered ${up.status}: ${up.body}`);
      const [upgradeOp] = await listOperations(cp.db, key);
      const upgraded = await underOutage(upgradeOp!.operationId, fault, fault.upgradeAt, 'upgrade');
      const upgradeEvidence = fault.evidence ? await fault.evidence() : '';
      const versions = upgraded.op.status === 'Succeeded' ? await serverVersions(stack, cp.db, key, addresses) : [];
      const after = await countOwned(stack, cp.db, key);
      const upgradeRetries = await retriedActivities(stack, upgraded.op.workflowId);
      upgradeOk =
        upgraded.op.status === 'Succeeded' &&
        versions.length === SERVERS &&
        versions.every((v) => v === NEWER) &&
        after.upgradeSnapshots === 1 &&
        after.operations.upgrade === 1 &&
        after.instances === SERVERS;
      log(
        `  upgrade: ${upgraded.op.status} in ${secs(upgraded.ms)}${upgraded.op.error ? ` (${upgraded.op.error.code}: ${upgraded.op.error.message})` : ''}; server versions ${versions.join(', ') || '-'}, upgrade snapshots ${after.upgradeSnapshots}, upgrade operations ${after.operations.upgrade ?? 0}, twin instances ${after.instances} -> ${upgradeOk ? 'OK' : 'WRONG'}`,
      );
      log(`  upgrade: retried activities: ${upgradeRetries.join(', ') || 'none'}${upgradeEvidence ? `; ${upgradeEvidence}` : ''}`);
    }

    // Clean up without a fault, and show the cluster leaves nothing behind.
    const names = await clusterNames(cp.db, key, { zone: config.dns.zone });
    const del = await arm(cp, 'DELETE', id);
    if (del.status !== 202) throw new Error(`DELETE answered ${del.status}: ${del.body}`);
    const [deleteOp] = await listOperations(cp.db, key);
    let deleted: OperationRecord | undefined;
    for (const end = Date.now() + OPERATION_DEADLINE_MS; Date.now() < end; await sleep(1_000)) {
      deleted = await readOperation(deleteOp!.operationId);
      if (deleted && ['Succeeded', 'Failed', 'Canceled'].includes(deleted.status)) break;
    }
    const left = Object.entries(await leftovers(stack, cp.db, { resourceKey: key, addresses, ...names })).filter(([, v]) => v.length);
    const deleteOk = deleted?.status === 'Succeeded' && left.length === 0;
    log(
      `  delete (no fault): ${deleted?.status ?? 'unfinished'}; left behind: ${left.length ? JSON.stringify(Object.fromEntries(left)) : 'nothing'} -> ${deleteOk ? 'OK' : 'WRONG'}`,
    );
    log(`  ${fault.name}: ${secs(Date.now() - faultStarted)} in all`);
    if (!createOk || !upgradeOk || !deleteOk) failures++;
  }
} finally {
  worker.stop();
  await cp.close();
}
log(`# ${FAULTS.length} faults, ${failures} wrong; run took ${secs(Date.now() - runStarted)}`);
log(`# machine at end: ${uptime()}`);
// A run of every fault replaces the results; a run of some (HCS_CHAOS_FAULTS) is added below.
mkdirSync(join(repoRoot, 'test', 'chaos', 'results'), { recursive: true });
const results = join(repoRoot, 'test', 'chaos', 'results', 'deps.txt');
if (only) appendFileSync(results, `\n# --- HCS_CHAOS_FAULTS=${only.join(',')}\n` + lines.join('\n') + '\n');
else writeFileSync(results, lines.join('\n') + '\n');
process.exit(failures === 0 ? 0 : 1);
