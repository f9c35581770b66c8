// Snapshots end to end on the full real stack, one 3-server cluster for the whole file: its
// Temporal schedule (interval overridden to seconds) fires several times and retention keeps
// exactly retentionCount AUTOMATIC snapshots while a MANUAL one survives, and a firing while
// another operation is active is skipped without a record; a KV value comes back
// through restoreSnapshot (with and without the snapshot taken first); deleteSnapshot removes
// row and blob; bad requests are refused before any operation starts; no token or data key is
// in any workflow history; and the schedule is gone once the cluster is deleted.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Client, Connection, ScheduleNotFoundError, type ScheduleClient, type WorkflowClient } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { snapshotScheduleId } from '../../activities/snapshot-schedules.js';
import { createSnapshotActivities, snapshotBlobName } from '../../activities/snapshots.js';
import { buildLifecycleDeps } from '../../apps/worker/src/lifecycle-config.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import type { HttpResult } from '../../lib/http.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { beginOperation, listOperations, OperationInProgressError, updateOperation } from '../../store/operations.js';
import { insertSnapshot } from '../../store/snapshots.js';
import { useControlPlane } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  clusterSecretValues,
  clusterWorkflows,
  consulCall,
  consulKvPut,
  createRootToken,
  followLocation,
  historyTexts,
  lifecycleConfig,
  vaultPki,
  type ClusterAccess,
} from '../support/lifecycle.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const subscriptionId = randomUUID();
const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-snap/providers/HCS.Consul/clusters/snap-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
/** The schedule fires this often here (the policy says 1 hour, the smallest it allows). */
const INTERVAL_SECONDS = 6;
const RETENTION = 2;
const KV_PATH = '/v1/kv/snapshot-test/value';
const config = { ...lifecycleConfig(stack), snapshotIntervalSeconds: INTERVAL_SECONDS };

const cp = useControlPlane(stack, () => ({ lifecycle: config }));
let connection: Connection;
let schedules: ScheduleClient;
let workflows: WorkflowClient;
let access: ClusterAccess;
let rootToken = '';

interface SnapshotView {
  id: string;
  name: string;
  type: string;
  state: string;
  sizeBytes?: number;
  consulVersion?: string;
}

beforeAll(async () => {
  await cp.registerSubscription(subscriptionId);
  connection = await Connection.connect({ address: stack.temporal.address });
  const client = new Client({ connection, namespace: stack.temporal.namespace, dataConverter: { payloadCodecs: [cp.payloadCodec] } });
  schedules = client.schedule;
  workflows = client.workflow;
});
afterAll(async () => {
  // Never leave a schedule firing at a cluster that is gone, whatever happened above.
  await schedules
    ?.getHandle(snapshotScheduleId(key))
    .delete()
    .catch(() => {});
  await connection?.close();
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await wait(500);
  }
}

/** An action that starts an operation; the schedule may hold the cluster for a moment (409), so retry that. */
async function startOperation(action: string, body: unknown = {}): Promise<HttpResult> {
  for (let i = 0; ; i++) {
    const res = await arm(cp, 'POST', `${id}/${action}`, body);
    const busy = res.status === 409 && (JSON.parse(res.body) as { error: { code: string } }).error.code === 'OperationInProgress';
    if (!busy || i > 120) return res;
    await wait(500);
  }
}

/** Starts the action and follows it to its end: the final answer of its Location. */
async function runOperation(action: string, body: unknown = {}): Promise<HttpResult> {
  const started = await startOperation(action, body);
  expect(started.status, `${action}: ${started.body}`).toBe(202);
  return followLocation(cp, String(started.headers.location), 300_000);
}

async function snapshots(): Promise<SnapshotView[]> {
  const res = await arm(cp, 'POST', `${id}/listSnapshots`);
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { value: SnapshotView[] }).value;
}

async function snapshotNamed(name: string): Promise<SnapshotView> {
  const s = (await snapshots()).find((x) => x.name === name);
  if (!s) throw new Error(`no snapshot named ${name}`);
  return s;
}

const container = async () =>
  new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey)).getContainerClient(
    (await clusterNames(cp.db, key)).container,
  );

async function snapshotBlobs(): Promise<string[]> {
  const names: string[] = [];
  for await (const b of (await container()).listBlobsFlat({ prefix: 'snapshots/' })) names.push(b.name);
  return names.sort();
}

const kvPut = (value: string) => consulKvPut(access, access.addresses[0]!, KV_PATH, rootToken, value);

async function kvGet(): Promise<string> {
  // Any server: a restored cluster must answer the same everywhere (a consistent read goes to the leader).
  const res = await consulCall(access, access.addresses[1]!, `${KV_PATH}?raw&consistent`, rootToken);
  expect(res.status).toBe(200);
  return res.body;
}

async function scheduleExists(): Promise<boolean> {
  return schedules
    .getHandle(snapshotScheduleId(key))
    .describe()
    .then(
      () => true,
      (err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return false;
        throw err;
      },
    );
}

/** The cluster's active operation, if any (straight from the store). */
async function activeOperation() {
  return (await listOperations(cp.db, key)).find((o) => ['Accepted', 'Running', 'Canceling'].includes(o.status));
}

describe.sequential('cluster snapshots on the real stack', () => {
  it('creates a 3-server cluster with snapshotPolicy retentionCount 2 and a snapshot schedule', async () => {
    const put = await arm(cp, 'PUT', id, {
      location: 'westeurope',
      properties: {
        consulVersion: version,
        serverCount: 3,
        network: { cidr: '10.66.0.0/16' },
        snapshotPolicy: { intervalHours: 1, retentionCount: RETENTION },
      },
    });
    expect(put.status, put.body).toBe(201);
    const state = await until(
      'the cluster to be provisioned',
      async () => {
        const s = (JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { provisioningState: string } }).properties
          .provisioningState;
        return s === 'Succeeded' || s === 'Failed' ? s : undefined;
      },
      600_000,
    );
    expect(state).toBe('Succeeded');
    access = await clientAccess(cp, id);
    rootToken = (await createRootToken(cp, id)).secretId;
    // The activities as the worker has them (same deps, the worker's task queue), to check the
    // schedule's idempotence; the interval override stands for a policy change.
    const deps = buildLifecycleDeps(config, { db: cp.db, sealer: new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys))) });
    const activities = (overrideSeconds: number) =>
      createSnapshotActivities({
        ...deps,
        snapshotIntervalOverrideSeconds: overrideSeconds,
        schedules: { client: schedules, taskQueue: cp.taskQueue },
      });
    // convergeCluster made the schedule (ensureSnapshotSchedule after provisioning); again is a no-op.
    expect(await scheduleExists()).toBe(true);
    expect(await activities(INTERVAL_SECONDS).ensureSnapshotSchedule({ resourceKey: key })).toEqual({
      scheduleId: snapshotScheduleId(key),
      intervalSeconds: INTERVAL_SECONDS,
      outcome: 'unchanged',
    });
    expect(await activities(3600).ensureSnapshotSchedule({ resourceKey: key })).toMatchObject({
      outcome: 'updated',
      intervalSeconds: 3600,
    });
    expect((await schedules.getHandle(snapshotScheduleId(key)).describe()).spec.intervals?.[0]?.every).toBe(3_600_000);
    expect(await activities(INTERVAL_SECONDS).ensureSnapshotSchedule({ resourceKey: key })).toMatchObject({ outcome: 'updated' });
    const description = await schedules.getHandle(snapshotScheduleId(key)).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(INTERVAL_SECONDS * 1000);
    expect(description.policies.overlap).toBe('SKIP');
    expect(description.action).toMatchObject({ workflowType: 'scheduledSnapshot', taskQueue: cp.taskQueue });
    // Removing a schedule that does not exist is fine (a repeated delete).
    expect(await activities(INTERVAL_SECONDS).removeSnapshotSchedule({ resourceKey: `${key}-absent` })).toEqual({ removed: false });
  }, 700_000);

  it('(a) the schedule fires several times, retention keeps exactly 2 AUTOMATIC snapshots, a MANUAL one survives', async () => {
    const scheduledOps = async () =>
      (await listOperations(cp.db, key)).filter((o) => o.kind === 'snapshot' && o.correlationId?.startsWith('snapshots/'));
    // A forced snapshot while the schedule runs: a MANUAL one, kept whatever retention does.
    const manual = await runOperation('createSnapshot', { name: 'keep-me' });
    expect(manual.status, manual.body).toBe(200);
    await until(
      'five scheduled snapshots',
      async () => ((await scheduledOps()).filter((o) => o.status === 'Succeeded').length >= 5 ? true : undefined),
      180_000,
    );
    // While another operation is active, firings are skipped and record nothing.
    const blocker = await until('a moment without an active operation to start another', async () =>
      beginOperation(cp.db, {
        operationId: randomUUID(),
        resourceKey: key,
        subscriptionId,
        location: 'westeurope',
        kind: 'maintenance',
        workflowId: 'snapshot-test-blocker',
        correlationId: null,
      }).catch((err: unknown) => {
        if (err instanceof OperationInProgressError) return undefined;
        throw err;
      }),
    );
    const handle = schedules.getHandle(snapshotScheduleId(key));
    const taken = (await handle.describe()).info.numActionsTaken;
    const recorded = (await listOperations(cp.db, key)).length;
    const skippedRun = await until(
      'two firings while blocked',
      async () => {
        const info = (await handle.describe()).info;
        return info.numActionsTaken >= taken + 2 ? info.recentActions.at(-1)!.action.workflow.workflowId : undefined;
      },
      60_000,
    );
    expect(await workflows.getHandle(skippedRun).result()).toMatchObject({ skipped: expect.stringContaining(blocker.operationId) });
    expect((await listOperations(cp.db, key)).length).toBe(recorded);
    await updateOperation(cp.db, blocker.operationId, { status: 'Succeeded' });

    // Quiet the schedule, let a running firing end, then count.
    await handle.pause('snapshot test: counting');
    await until('no active operation', async () => ((await activeOperation()) ? undefined : true), 120_000);

    const ops = await scheduledOps();
    expect(ops.filter((o) => o.status === 'Succeeded').length).toBeGreaterThanOrEqual(5);
    for (const o of ops.filter((x) => x.status === 'Succeeded')) expect(o).toMatchObject({ percentComplete: 100, step: 'done' });
    // They show in the API's operation list like every other operation.
    const listed = JSON.parse((await arm(cp, 'GET', `${id}/operations`)).body) as {
      value: Array<{ name: string; properties: { kind: string } }>;
    };
    expect(listed.value.filter((o) => o.properties.kind === 'snapshot').length).toBeGreaterThanOrEqual(6);

    const all = await snapshots();
    const automatic = all.filter((s) => s.type === 'SNAPSHOT_TYPE_AUTOMATIC');
    expect(automatic).toHaveLength(RETENTION);
    for (const s of automatic) expect(s).toMatchObject({ state: 'SNAPSHOT_STATE_COMPLETED', consulVersion: version });
    const kept = all.find((s) => s.name === 'keep-me');
    expect(kept).toMatchObject({ type: 'SNAPSHOT_TYPE_MANUAL', state: 'SNAPSHOT_STATE_COMPLETED', consulVersion: version });
    expect(kept!.sizeBytes).toBeGreaterThan(0);
    // Retention removed the blobs with the records: exactly one blob per snapshot left.
    expect(await snapshotBlobs()).toEqual(all.map((s) => snapshotBlobName(s.id)).sort());
    // Only the transit-wrapped data key is stored.
    const keys = await cp.db.query<{ wrapped_key: string }>('SELECT wrapped_key FROM snapshots WHERE resource_id = $1', [key]);
    expect(keys.rows.length).toBe(all.length);
    for (const r of keys.rows) expect(r.wrapped_key).toMatch(/^vault:v\d+:/);
  }, 420_000);

  it('(b) restoreSnapshot brings a changed KV value back, taking a snapshot first unless told not to', async () => {
    await kvPut('original');
    expect((await runOperation('createSnapshot', { name: 'with-original' })).status).toBe(200);
    const withOriginal = await snapshotNamed('with-original');
    expect(withOriginal.state).toBe('SNAPSHOT_STATE_COMPLETED');
    await kvPut('changed');
    expect(await kvGet()).toBe('changed');

    const before = (await snapshots()).length;
    const restored = await runOperation('restoreSnapshot', { snapshotId: withOriginal.id });
    expect(restored.status, restored.body).toBe(200);
    expect(await kvGet()).toBe('original');
    const [restoreOp] = await listOperations(cp.db, key);
    expect(restoreOp).toMatchObject({ kind: 'restore', status: 'Succeeded', percentComplete: 100 });
    // The snapshot taken first holds the value the restore replaced, and is kept (MANUAL).
    const after = await snapshots();
    expect(after).toHaveLength(before + 1);
    const safety = after.find((s) => s.name.startsWith('before-restore-'));
    expect(safety).toMatchObject({ type: 'SNAPSHOT_TYPE_MANUAL', state: 'SNAPSHOT_STATE_COMPLETED' });
    // The restored snapshot says when it was restored.
    expect((after.find((s) => s.id === withOriginal.id) as { restoredAt?: string }).restoredAt).toMatch(/^\d{4}-/);

    // Back to "changed" from that snapshot, this time without one taken first.
    const undone = await runOperation('restoreSnapshot', { snapshotId: safety!.id, takeSnapshotFirst: false });
    expect(undone.status, undone.body).toBe(200);
    expect(await kvGet()).toBe('changed');
    expect(await snapshots()).toHaveLength(before + 1);
  }, 600_000);

  it('(c) deleteSnapshot removes the record and the blob', async () => {
    const doomed = await snapshotNamed('with-original');
    expect(await snapshotBlobs()).toContain(snapshotBlobName(doomed.id));
    const done = await runOperation('deleteSnapshot', { snapshotId: doomed.id });
    expect(done.status, done.body).toBe(200);
    expect((await snapshots()).map((s) => s.id)).not.toContain(doomed.id);
    expect(await snapshotBlobs()).not.toContain(snapshotBlobName(doomed.id));
    expect((await arm(cp, 'POST', `${id}/getSnapshot`, { snapshotId: doomed.id })).status).toBe(404);
    const [op] = await listOperations(cp.db, key);
    expect(op).toMatchObject({ kind: 'snapshotdelete', status: 'Succeeded' });
  }, 300_000);

  it('(d) refuses bad requests before any operation starts: unknown id 404, no id 400, not COMPLETED or newer Consul 409', async () => {
    const operationsBefore = (await listOperations(cp.db, key)).length;
    const expectError = (res: HttpResult, status: number, code: string) => {
      expect(res.status, res.body).toBe(status);
      expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe(code);
    };
    expectError(await arm(cp, 'POST', `${id}/restoreSnapshot`, { snapshotId: randomUUID() }), 404, 'ResourceNotFound');
    expectError(await arm(cp, 'POST', `${id}/deleteSnapshot`, { snapshotId: randomUUID() }), 404, 'ResourceNotFound');
    expect((await arm(cp, 'POST', `${id}/restoreSnapshot`, {})).status).toBe(400);
    const kept = await snapshotNamed('keep-me');
    expect((await arm(cp, 'POST', `${id}/restoreSnapshot`, { snapshotId: kept.id, takeSnapshotFirst: 'yes' })).status).toBe(400);
    expect((await arm(cp, 'POST', `${id}/createSnapshot`, { name: 'x'.repeat(101) })).status).toBe(400);
    const pending = randomUUID();
    const newer = randomUUID();
    for (const [snapshotId, state, consulVersion] of [
      [pending, 'PENDING', version],
      [newer, 'COMPLETED', '99.0.0'],
    ] as const) {
      await insertSnapshot(cp.db, {
        snapshotId,
        resourceKey: key,
        name: `planted-${state}`,
        kind: 'MANUAL',
        state,
        sizeBytes: null,
        consulVersion,
        finished: state === 'COMPLETED',
      });
    }
    expectError(await arm(cp, 'POST', `${id}/restoreSnapshot`, { snapshotId: pending }), 409, 'SnapshotNotReady');
    const incompatible = await arm(cp, 'POST', `${id}/restoreSnapshot`, { snapshotId: newer });
    expectError(incompatible, 409, 'SnapshotVersionIncompatible');
    expect(incompatible.body).toContain(`newer than the cluster's ${version}`);
    expect((await listOperations(cp.db, key)).length).toBe(operationsBefore);
    await cp.db.query('DELETE FROM snapshots WHERE snapshot_id = ANY($1)', [[pending, newer]]);
  }, 120_000);

  it('left no ACL token, data key or PEM block in any snapshot workflow history', async () => {
    const secrets = [rootToken, ...(await clusterSecretValues(stack, cp.db, key))];
    const pki = vaultPki(stack);
    const wrapped = await cp.db.query<{ wrapped_key: string }>('SELECT wrapped_key FROM snapshots WHERE resource_id = $1', [key]);
    for (const r of wrapped.rows) {
      const dataKey = await pki.unwrapDataKey(r.wrapped_key);
      secrets.push(dataKey.toString('base64'), dataKey.toString('hex'));
    }
    const operationWorkflows = (await clusterWorkflows(stack, cp.payloadCodec, key)).filter((w) =>
      /\/(snapshot|snapshotdelete|restore)\//.test(w),
    );
    expect(operationWorkflows.length).toBeGreaterThanOrEqual(8);
    const texts = await historyTexts(stack, cp.payloadCodec, operationWorkflows);
    for (const t of texts) {
      expect(t).not.toMatch(/-----BEGIN [A-Z ]+-----/);
      for (const s of secrets) expect(t.includes(s)).toBe(false);
    }
  }, 120_000);

  it('(e) deleting the cluster removes its snapshot schedule', async () => {
    expect(await scheduleExists()).toBe(true);
    const del = await arm(cp, 'DELETE', id);
    expect(del.status, del.body).toBe(202);
    const done = await followLocation(cp, String(del.headers.location), 600_000);
    expect(done.status, done.body).toBe(204);
    // deleteCluster removes it (removeSnapshotSchedule) before the infrastructure goes.
    expect(await scheduleExists()).toBe(false);
  }, 700_000);
});
