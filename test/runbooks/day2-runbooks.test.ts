// docs/runbooks/payload-key-rotation.md, restore-snapshot-out-of-band.md and stuck-upgrade.md on
// the real stack, on one 1-server cluster on the older built Consul version whose maintenance
// window opens hours from now:
// - a KV value, a snapshot through the API, the value changed; the payload-key rotation's first
//   half (a new key appended); the control plane stopped, and while it is down the restore
//   runbook brings the snapshot back with psql, bao, the Blob download, the offline decrypt and
//   the consul CLI: the value is the old one again; the control plane restarted on the new file
//   (the roll), the key made first, restarted again: the create's history still decodes through
//   /codec, a new workflow's input carries the new key id, and the old key's remaining uses (the
//   cluster's schedules and its sealed client configuration) are listed;
// - an upgrade requested without force stays Scheduled; the runbook finds its operation and its
//   workflow and cancels it; a second one is deferred (still Scheduled, the step names the time,
//   the signal's input encrypted under the new key), then forced through the codec too (a signal
//   without input: the CLI sends /codec/encode `{}`) and ends Succeeded on the newer version.
//   The cluster is deleted at the end.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { snapshotScheduleId } from '../../activities/snapshot-schedules.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import { readSecretFile } from '../../lib/secret-file.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { createCluster } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  consulCall,
  consulKvPut,
  createRootToken,
  followLocation,
  lifecycleConfig,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { windowHoursAway } from '../support/windows.js';
import { runbookEnvironment, REPO_ROOT } from './environment.js';
import { openRunbook } from './runbook.js';

const stack = inject('stack');
const [older, newer] = stack.tools.consulVersions;
const sub = randomUUID();
const id = `/subscriptions/${sub}/resourceGroups/rg-runbooks/providers/HCS.Consul/clusters/day2-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
const KV_PATH = '/v1/kv/runbook/value';
const config = lifecycleConfig(stack);

let cp: ControlPlane | undefined;
/** The deployment's keys file (the first control plane's), which the rotation edits. */
let keysFile = '';
/** $WORK, one for the whole file (owner-only); the scratch folders of each environment built. */
let work = '';
const scratch: string[] = [];
function useWork(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-runbook-work-'));
  scratch.push(dir);
  return dir;
}
let temporal: Connection | undefined;
let deleted = false;

/** The runbooks' environment for the control plane running now, with the file's $WORK and keys file. */
const envs = new Map<ControlPlane, Record<string, string>>();
function envNow(): Record<string, string> {
  let env = envs.get(cp!);
  if (!env) {
    const e = runbookEnvironment(stack, cp!, id);
    scratch.push(e.work);
    env = { ...e.env, WORK: work, HCS_PAYLOAD_KEYS_FILE: keysFile };
    envs.set(cp!, env);
  }
  return env;
}

/** A control plane on the keys file as the real processes read it (owner-only, trimmed, parsed). */
async function startOnKeysFile(previous: ControlPlane): Promise<ControlPlane> {
  const keys = readSecretFile('HCS_PAYLOAD_KEYS_FILE', keysFile);
  parsePayloadKeys(keys);
  return startControlPlane(stack, { lifecycle: config, restartOf: { taskQueue: previous.taskQueue, payloadKeys: keys } });
}

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error('the runbooks use psql: the store must be PostgreSQL');
  cp = await startControlPlane(stack, { lifecycle: config });
  keysFile = cp.payloadKeysFile;
  work = useWork();
  await cp.registerSubscription(sub);
  temporal = await Connection.connect({ address: stack.temporal.address });
});
afterAll(async () => {
  // A test that failed part way leaves the cluster: delete it (its VMs are processes on this machine).
  if (cp && !deleted) {
    const del = await arm(cp, 'DELETE', id);
    if (del.status === 202) await followLocation(cp, String(del.headers.location), 300_000);
  }
  await cp?.close();
  await temporal?.close();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
}, 400_000);

const rotation = openRunbook('payload-key-rotation.md', {}, REPO_ROOT);
const restore = openRunbook('restore-snapshot-out-of-band.md', {}, REPO_ROOT);
const upgrade = openRunbook('stuck-upgrade.md', {}, REPO_ROOT);
type Book = typeof rotation;
const run = (book: Book, step: string, extra: Record<string, string> = {}) => book.run(step, { ...envNow(), ...extra });

let access: ClusterAccess;
let rootToken = '';
let snapshotId = '';
let createOperationId = '';
let newKeyId = '';

/** The KV value, read consistently (retried briefly: right after a restore the server may still be settling). */
async function kv(): Promise<string> {
  for (let i = 0; ; i++) {
    const res = await consulCall(access, access.addresses[0]!, `${KV_PATH}?raw&consistent`, rootToken).catch((err: unknown) => ({
      status: 0,
      body: String(err),
    }));
    if (res.status === 200 || i >= 20) {
      expect(res.status, res.body).toBe(200);
      return res.body;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

const kvPut = (value: string) => consulKvPut(access, access.addresses[0]!, KV_PATH, rootToken, value);

/** The upgrade's operation id from the POST's Location (…/operationResults/<id>?api-version=…). */
function operationIdOf(location: unknown): string {
  return String(location).split('/operationResults/')[1]!.split('?')[0]!;
}

async function waitForStep(operationId: string, test: (step: string) => boolean, what: string): Promise<void> {
  for (const end = Date.now() + 60_000; ;) {
    const op = await getOperation(cp!.db, operationId);
    if (op?.step && test(op.step)) return;
    if (Date.now() > end) throw new Error(`operation ${operationId} never reached ${what} (step ${op?.step}, status ${op?.status})`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe.sequential('day-2 runbooks on one cluster', () => {
  it('creates a 1-server cluster on the older version with a window hours away, a KV value and a snapshot of it', async () => {
    expect(older).toBeDefined();
    expect(newer).toBeDefined();
    const created = await createCluster(cp!, id, {
      location: 'westeurope',
      properties: {
        consulVersion: older,
        serverCount: 1,
        network: { cidr: '10.93.0.0/16' },
        maintenanceWindow: windowHoursAway(),
        upgradePolicy: { automaticPatchUpgrades: false },
      },
    });
    expect(JSON.parse(created.body)).toMatchObject({ properties: { provisioningState: 'Succeeded' } });
    createOperationId = (await listOperations(cp!.db, key)).find((o) => o.kind === 'create')!.operationId;
    access = await clientAccess(cp!, id);
    // The root token exists before the snapshot, so it is in it and still works after the restore.
    rootToken = (await createRootToken(cp!, id)).secretId;
    await kvPut('before');
    const snap = await arm(cp!, 'POST', `${id}/createSnapshot`, { name: 'runbook-before' });
    expect(snap.status, snap.body).toBe(202);
    const done = await followLocation(cp!, String(snap.headers.location), 300_000);
    expect(done.status, done.body).toBe(200);
    snapshotId = (JSON.parse(done.body) as { snapshot: { id: string; state: string } }).snapshot.id;
    await kvPut('after');
    expect(await kv()).toBe('after');
  }, 600_000);

  it('adds a payload key, then restores the snapshot out of band while the control plane is down', async () => {
    const shown = await run(rotation, 'show-keys');
    expect(shown.stdout).toMatch(/^600 \S+ /);
    expect(shown.stdout.trim().split('\n').slice(1)).toEqual(['test-1']);
    const added = await run(rotation, 'add-key');
    newKeyId = readFileSync(join(work, 'new-key-id'), 'utf8').trim();
    expect(newKeyId).toMatch(/^k\d{14}$/);
    expect(added.stdout.trim().split('\n')).toEqual(['test-1', newKeyId]);
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    expect(parsePayloadKeys(readSecretFile('HCS_PAYLOAD_KEYS_FILE', keysFile)).map((k) => k.id)).toEqual(['test-1', newKeyId]);

    // The roll begins: the control plane goes down; the restore needs none of it.
    const stopped = cp!;
    const env = envNow();
    cp = undefined;
    await stopped.close();
    const down = (step: string, extra: Record<string, string> = {}) => restore.run(step, { ...env, ...extra });

    const record = JSON.parse((await down('cluster-record')).stdout) as {
      container: string;
      pkiMount: string;
      version: string;
      servers: string[];
    };
    expect(record).toMatchObject({ version: older, servers: access.addresses, activeOperations: [] });
    expect(record.container).toMatch(/^cluster-[0-9a-f]{32}$/);
    expect(record.pkiMount).toBe(record.container.replace('cluster-', 'pki-cluster-'));
    const listed = await down('list-snapshots');
    expect(listed.stdout).toContain(snapshotId);
    expect(listed.stdout).toContain('runbook-before');
    // A snapshot id that is not the cluster's is refused by name.
    await expect(down('snapshot-row', { SNAPSHOT_ID: randomUUID() })).rejects.toThrow(/no COMPLETED snapshot/);
    const row = JSON.parse((await down('snapshot-row', { SNAPSHOT_ID: snapshotId })).stdout) as Record<string, unknown>;
    expect(row).toMatchObject({ name: 'runbook-before', blobPath: `snapshots/${snapshotId}.snap`, consulVersion: older });
    expect(row.sha256).toMatch(/^[0-9a-f]{64}$/);
    await down('unwrap-key');
    expect(statSync(join(work, 'data-key.b64')).mode & 0o777).toBe(0o600);
    const fetched = await down('fetch-blob');
    expect(fetched.stdout).toMatch(new RegExp(`^fetched ${record.container}/snapshots/${snapshotId}\\.snap to .* \\(\\d+ bytes\\)`));
    const decrypted = await down('decrypt');
    expect(decrypted.stdout).toContain(`(${String(row.sizeBytes)} bytes)`);
    expect(() => statSync(join(work, 'data-key.b64'))).toThrow();
    expect((await down('verify-digest')).stdout).toContain(': OK');
    // The digest step fails on a digest that is not the archive's.
    const saved = readFileSync(join(work, 'snapshot.json'), 'utf8');
    writeFileSync(join(work, 'snapshot.json'), JSON.stringify({ ...JSON.parse(saved), sha256: '0'.repeat(64) }));
    await expect(down('verify-digest')).rejects.toThrow(/FAILED/);
    writeFileSync(join(work, 'snapshot.json'), saved);
    expect((await down('inspect')).stdout).toMatch(/Index\s+\d+/);
    const creds = await down('credentials');
    expect(creds.stdout).toMatch(/subject=/);
    expect(statSync(join(work, 'management-token')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(work, 'management-token'), 'utf8').trim()).toMatch(/^[0-9a-f-]{36}$/);
    const restored = await down('restore');
    expect(restored.stdout).toContain('Restored snapshot');
    expect(restored.stdout).toContain(access.addresses[0]!);
    expect(await kv()).toBe('before');
    await down('clean-up');
    for (const f of ['management-token', 'snapshot.enc', 'snapshot.snap', 'data-key.b64']) expect(() => statSync(join(work, f))).toThrow();

    // The roll ends: the control plane back on the file with both keys (the old one still first).
    cp = await startOnKeysFile(stopped);
    expect((await run(rotation, 'rolled')).stdout).toContain('"status":"ready"');
  }, 600_000);

  it('makes the new key first: old histories decode, new workflows carry the new key id, the old key uses are listed', async () => {
    const promoted = await run(rotation, 'promote-key');
    expect(promoted.stdout.trim().split('\n')).toEqual([newKeyId, 'test-1']);
    const stopped = cp!;
    cp = undefined;
    await stopped.close();
    cp = await startOnKeysFile(stopped);
    await run(rotation, 'rolled');
    // Sealed under the old key, opened with it (it is still configured, no longer first).
    expect((await clientAccess(cp, id)).addresses).toEqual(access.addresses);

    const old = await run(rotation, 'old-history');
    expect(old.stdout).toContain(`workflow: cluster/${key.slice(1)}/create/${createOperationId}`);
    expect(old.stdout).toContain('stored under key ids: test-1\n');
    expect(JSON.parse(old.stdout.trim().split('\n').at(-1)!)).toMatchObject({ operationId: createOperationId, resourceKey: key });

    // A new workflow: an upgrade asked for without force (it waits for the window).
    const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
    expect(up.status, up.body).toBe(202);
    const upgradeId = operationIdOf(up.headers.location);
    const fresh = await run(rotation, 'new-payloads');
    expect(fresh.stdout.split('\n')).toContain(`${newKeyId}  cluster/${key.slice(1)}/upgrade/${upgradeId}`);

    const uses = await run(rotation, 'old-key-uses');
    expect(uses.stdout).toContain(`first key: ${newKeyId}; last roll: `);
    expect(uses.stdout).toMatch(/namespace retention: \d+s/);
    expect(uses.stdout).toContain(`  test-1  ${snapshotScheduleId(key)}\n`);
    expect(uses.stdout).toContain(`test-1  ${key}  sealed/client-config\n`);
    expect(uses.stdout).toMatch(/federation tokens issued before the roll and still usable: \d+/);
    // The upgrade's workflow started after the roll: it is not among the workflows open from before it.
    expect(uses.stdout).not.toContain(`/upgrade/${upgradeId}`);

    // Temporal's schedule list comes from its visibility store, which lags behind a delete (as CI
    // once caught: a cluster's schedule deleted between the list and the describe stopped the
    // step). A `temporal` that lists a schedule deleted a moment ago, as the lag does; every
    // describe still goes to the real server.
    const client = new Client({ connection: temporal!, namespace: envNow().TEMPORAL_NAMESPACE });
    const goneId = `runbook-deleted-${randomUUID().slice(0, 8)}`;
    const gone = await client.schedule.create({
      scheduleId: goneId,
      spec: { intervals: [{ every: '1h' }] },
      action: { type: 'startWorkflow', workflowType: 'nothing', taskQueue: `runbook-${goneId}` },
    });
    await gone.delete();
    const shims = useWork();
    writeFileSync(
      join(shims, 'temporal'),
      `#!/usr/bin/env bash\nset -euo pipefail\nif [ "$1 $2" = "schedule list" ]; then\n  "$REAL_TEMPORAL" "$@" | jq '. + [{"scheduleId": "${goneId}"}]'\nelse\n  exec "$REAL_TEMPORAL" "$@"\nfi\n`,
      { mode: 0o700 },
    );
    const lagging = await run(rotation, 'old-key-uses', { PATH: `${shims}:${envNow().PATH}`, REAL_TEMPORAL: stack.tools.temporal });
    expect(lagging.stdout).toContain(`  test-1  ${snapshotScheduleId(key)}\n`);
    expect(lagging.stdout).toContain(`test-1  ${key}  sealed/client-config\n`);
    expect(lagging.stdout).not.toContain(goneId);
  }, 300_000);

  it('finds a Scheduled upgrade and cancels it; defers a second one, then forces it to Succeeded', async () => {
    // The upgrade asked for above waits for the window hours away.
    const first = JSON.parse((await run(upgrade, 'find-operation')).stdout) as { name: string; status: string; step: string };
    expect(first.status).toBe('Scheduled');
    await waitForStep(first.name, (s) => s.startsWith('waiting for the maintenance window at '), 'the window wait');
    const workflowOf = (op: string) => `cluster/${key.slice(1)}/upgrade/${op}`;
    expect((await run(upgrade, 'find-workflow')).stdout).toContain(workflowOf(first.name));
    expect(readFileSync(join(work, 'upgrade-workflow-id'), 'utf8').trim()).toBe(workflowOf(first.name));
    const canceled = JSON.parse((await run(upgrade, 'cancel')).stdout) as Record<string, unknown>;
    expect(canceled).toMatchObject({ name: first.name, status: 'Canceled', error: { code: 'OperationCanceled' } });
    expect(JSON.parse((await run(upgrade, 'operation-status')).stdout)).toMatchObject({ status: 'Canceled' });
    const afterCancel = JSON.parse((await arm(cp!, 'GET', id)).body) as {
      properties: { consulVersion: string; currentConsulVersion: string };
    };
    expect(afterCancel.properties).toMatchObject({ consulVersion: newer, currentConsulVersion: older });
    // Nothing left to find now.
    await expect(run(upgrade, 'find-operation')).rejects.toThrow(/no Scheduled or Running upgrade/);

    const again = await arm(cp!, 'POST', `${id}/upgrade`, { consulVersion: newer });
    expect(again.status, again.body).toBe(202);
    const second = JSON.parse((await run(upgrade, 'find-operation')).stdout) as { name: string; status: string };
    expect(second).toMatchObject({ name: operationIdOf(again.headers.location), status: 'Scheduled' });
    await waitForStep(second.name, (s) => s.startsWith('waiting for the maintenance window at '), 'the window wait');
    await run(upgrade, 'find-workflow');

    const until = new Date(Math.ceil((Date.now() + 2 * 86_400_000) / 3_600_000) * 3_600_000);
    const deferUntil = until.toISOString().replace('.000Z', 'Z');
    await run(upgrade, 'defer', { DEFER_UNTIL: deferUntil });
    await waitForStep(second.name, (s) => s === `deferred until ${until.toISOString()}`, 'the deferral');
    expect(JSON.parse((await run(upgrade, 'operation-status')).stdout)).toMatchObject({
      status: 'Scheduled',
      step: `deferred until ${until.toISOString()}`,
    });
    // The signal's input went through /codec: encrypted under the first key, as every other payload.
    const history = await new Client({ connection: temporal!, namespace: stack.temporal.namespace }).workflow
      .getHandle(workflowOf(second.name))
      .fetchHistory();
    const signal = history.events?.find((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'defer');
    const meta = signal?.workflowExecutionSignaledEventAttributes?.input?.payloads?.[0]?.metadata ?? {};
    expect(Buffer.from(meta.encoding ?? []).toString()).toBe('binary/encrypted');
    expect(Buffer.from(meta['encryption-key-id'] ?? []).toString()).toBe(newKeyId);

    expect(JSON.parse((await run(upgrade, 'operation-status')).stdout)).toMatchObject({ status: 'Scheduled' });

    await run(upgrade, 'force');
    const followed = await run(upgrade, 'follow-upgrade');
    expect(followed.stdout).toContain('"status": "Succeeded"');
    expect(followed.stdout).toContain(`"currentConsulVersion": "${newer}"`);
    const self = await consulCall(access, access.addresses[0]!, '/v1/agent/self', rootToken);
    expect((JSON.parse(self.body) as { Config: { Version: string } }).Config.Version).toBe(newer);
    // The restored value is still there after the upgrade.
    expect(await kv()).toBe('before');
  }, 600_000);

  it('ran every step of the three runbooks, and deletes the cluster', async () => {
    expect(rotation.unrun()).toEqual([]);
    expect(restore.unrun()).toEqual([]);
    expect(upgrade.unrun()).toEqual([]);
    const del = await arm(cp!, 'DELETE', id);
    expect(del.status, del.body).toBe(202);
    expect((await followLocation(cp!, String(del.headers.location), 300_000)).status).toBe(204);
    deleted = true;
  }, 400_000);
});
