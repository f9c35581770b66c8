// A delete in the middle of a create, on the full real stack (OpenBao, Azurite, terraform +
// azapi against the ARM twin, real Temporal): ARM's DELETE - and a subscription ARM marks
// Deleted - is accepted while the create runs; the create goes Canceling, its workflow is
// cancelled and ends Canceled; the delete waits (Scheduled) until it has ended, and only then
// does anything. Meanwhile the cluster never has more than one intermediate CA, one container
// or its servers' scale sets; afterwards nothing is left: no resource, PKI mount, container,
// secret, state or record.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import nodeVault from 'node-vault';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { CLUSTER_ID_METADATA } from '../../activities/cluster-blobs.js';
import { listOperations, type OperationRecord } from '../../store/operations.js';
import { rest } from '../security/support.js';
import { useControlPlane } from '../support/control-plane-fixture.js';
import { arm, clusterNames, followLocation, leftovers, lifecycleConfig, twinGet, type ClusterNames } from '../support/lifecycle.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const SERVERS = 1;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }), {
  requirePostgres: 'this test needs the PostgreSQL store (terraform pg backend)',
  timeoutMs: 120_000,
});

/** A protobuf timestamp (seconds may be a Long) in milliseconds. */
const tsToMs = (ts: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined): number =>
  Number((ts?.seconds ?? 0).toString()) * 1_000 + Math.floor((ts?.nanos ?? 0) / 1e6);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function operations(key: string): Promise<{ create: OperationRecord; delete?: OperationRecord; all: OperationRecord[] }> {
  const all = await listOperations(cp.db, key);
  return { create: all.find((o) => o.kind === 'create')!, delete: all.find((o) => o.kind === 'delete'), all };
}

/** Starts a create and returns once its terraform apply is under way (so a CA and a container exist). */
async function createUntilInfrastructure(subscriptionId: string, cidr: string) {
  const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-dmo/providers/HCS.Consul/clusters/dmo-${randomUUID().slice(0, 6)}`;
  const key = id.toLowerCase();
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion: version, serverCount: SERVERS, network: { cidr } },
  });
  expect(put.status, put.body).toBe(201);
  for (let i = 0; (await operations(key)).create.step !== 'infrastructure'; i++) {
    expect((await operations(key)).create.status, 'the create ended before its infrastructure step').not.toMatch(/Succeeded|Failed/);
    if (i > 1_200) throw new Error('the create did not reach its infrastructure step within 5 minutes');
    await sleep(250);
  }
  await sleep(3_000); // terraform is applying now
  return { id, key, names: await clusterNames(cp.db, key) };
}

/**
 * Counts, every half second until stopped, what exists for the cluster: PKI mounts and Blob
 * containers that carry its id, and scale sets in its infrastructure resource group.
 */
function watch(names: ClusterNames) {
  const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });
  const blobs = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
  const max = { pki: 0, containers: 0, scaleSets: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      // The mount table (node-vault returns it at the top level and again under data).
      const raw = (await vault.mounts()) as Record<string, unknown> & { data?: Record<string, unknown> };
      const table = raw.data && typeof raw.data === 'object' ? raw.data : raw;
      const owned = Object.values(table).filter((m) => {
        const description = typeof m === 'object' && m !== null ? (m as { description?: unknown }).description : undefined;
        return typeof description === 'string' && description.includes(names.clusterId);
      });
      max.pki = Math.max(max.pki, owned.length);
      let containers = 0;
      for await (const c of blobs.listContainers({ includeMetadata: true }))
        if (c.metadata?.[CLUSTER_ID_METADATA] === names.clusterId) containers++;
      max.containers = Math.max(max.containers, containers);
      const sets = await twinGet(
        stack,
        `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${names.infraResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-03-01`,
      );
      if (sets.status === 200) max.scaleSets = Math.max(max.scaleSets, (JSON.parse(sets.body) as { value: unknown[] }).value.length);
      else if (sets.status !== 404) throw new Error(`the twin answered ${sets.status} listing scale sets: ${sets.body}`);
      await sleep(500);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

/**
 * From the workflows' histories: when the create's workflow closed, whether every activity it
 * scheduled had ended by then, and when the delete scheduled its first activity that acts on
 * the cluster (anything after waiting for and claiming it).
 */
async function timeline(create: OperationRecord, del: OperationRecord) {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    const E = temporal.api.enums.v1.EventType;
    const createHistory = (await client.workflow.getHandle(create.workflowId).fetchHistory()).events ?? [];
    const closed = createHistory.at(-1)!;
    const scheduled = new Set(
      createHistory.filter((e) => e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => Number(e.eventId)),
    );
    for (const e of createHistory) {
      const attrs =
        e.activityTaskCompletedEventAttributes ??
        e.activityTaskFailedEventAttributes ??
        e.activityTaskCanceledEventAttributes ??
        e.activityTaskTimedOutEventAttributes;
      if (attrs?.scheduledEventId) scheduled.delete(Number(attrs.scheduledEventId));
    }
    const queueActivities = ['claimClusterForDelete', 'waitForOperationsToEnd', 'abandonOperation'];
    const deleteHistory = (await client.workflow.getHandle(del.workflowId).fetchHistory()).events ?? [];
    const firstAct = deleteHistory.find(
      (e) =>
        e.eventType === E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED &&
        !queueActivities.includes(e.activityTaskScheduledEventAttributes?.activityType?.name ?? ''),
    );
    return {
      createClosedAt: tsToMs(closed.eventTime),
      createCanceled: closed.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
      createActivitiesLeftRunning: scheduled.size,
      deleteFirstActs: tsToMs(firstAct!.eventTime),
      deleteFirstActivity: firstAct!.activityTaskScheduledEventAttributes!.activityType!.name,
    };
  } finally {
    await connection.close();
  }
}

/** What must hold once the delete has ended, whatever started it. */
async function expectCancelledThenDeleted(c: { id: string; key: string; names: ClusterNames }, max: Record<string, number>) {
  const ops = await operations(c.key);
  expect(ops.create).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
  expect(ops.delete).toMatchObject({ status: 'Succeeded' });
  expect(ops.all.filter((o) => o.kind === 'delete')).toHaveLength(1);
  const t = await timeline(ops.create, ops.delete!);
  expect(t.createCanceled).toBe(true);
  expect(t.createActivitiesLeftRunning).toBe(0);
  expect(t.deleteFirstActivity).toBe('recordProgress');
  expect(t.deleteFirstActs).toBeGreaterThanOrEqual(t.createClosedAt);
  // The create had made its CA and container before the delete came; never a second one.
  expect(max).toMatchObject({ pki: 1, containers: 1 });
  expect(max.scaleSets).toBeLessThanOrEqual(SERVERS);
  expect((await arm(cp, 'GET', c.id)).status).toBe(404);
  const left = await leftovers(stack, cp.db, { resourceKey: c.key, addresses: [], ...c.names });
  expect(left).toEqual({ processes: [], twin: [], blob: [], dns: [], pki: [], secrets: [], terraformState: [], record: [] });
  return t;
}

describe.sequential('a delete in the middle of a create', () => {
  it('ARM DELETE mid-create: 202, the create Canceling then Canceled, the delete follows and leaves nothing', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const c = await createUntilInfrastructure(sub, '10.71.0.0/16');
    const watcher = watch(c.names);
    const started = Date.now();
    const del = await arm(cp, 'DELETE', c.id);
    expect(del.status, del.body).toBe(202);
    expect(del.headers.location).toMatch(/\/operationResults\//);
    expect(del.headers['azure-asyncoperation']).toMatch(/\/operationStatuses\//);
    // In the same transaction: the create Canceling, the delete waiting for it without the lock.
    const now = await operations(c.key);
    expect(now.create.status).toBe('Canceling');
    expect(now.delete).toMatchObject({ status: 'Scheduled', step: `waiting for create operation ${now.create.operationId} to end` });
    expect((JSON.parse((await arm(cp, 'GET', c.id)).body) as { properties: { provisioningState: string } }).properties).toMatchObject({
      provisioningState: 'Deleting',
    });
    // Meanwhile: nothing else may start, and the DELETE again answers the same delete.
    const patch = await arm(cp, 'PATCH', c.id, { properties: { serverCount: 3 } });
    expect(patch.status).toBe(409);
    expect(JSON.parse(patch.body)).toMatchObject({ error: { code: 'OperationInProgress' } });
    const again = await arm(cp, 'DELETE', c.id);
    expect(again.status).toBe(202);
    expect(again.headers.location).toBe(del.headers.location);

    expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
    const max = await watcher.stop();
    const t = await expectCancelledThenDeleted(c, max);
    console.log(
      `DELETE mid-create: create ended ${t.createClosedAt - started} ms after the DELETE, the delete acted ${t.deleteFirstActs - t.createClosedAt} ms after that, all done in ${Date.now() - started} ms; max seen ${JSON.stringify(max)}`,
    );
  }, 900_000);

  it('a subscription ARM marks Deleted mid-create: its running create is cancelled and the cluster deleted, nothing left', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const c = await createUntilInfrastructure(sub, '10.72.0.0/16');
    const watcher = watch(c.names);
    const started = Date.now();
    const markDeleted = async () =>
      rest(cp, 'PUT', `/subscriptions/${sub}?api-version=2.0`, { token: await cp.mintJwt('arm'), body: { state: 'Deleted' } });
    const res = await markDeleted();
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const now = await operations(c.key);
    expect(now.create.status).toBe('Canceling');
    expect(now.delete?.status).toBe('Scheduled');
    // Redelivered: the same delete, no second one.
    expect((await markDeleted()).status).toBe(200);
    for (let i = 0; (await operations(c.key)).delete?.status !== 'Succeeded'; i++) {
      expect((await operations(c.key)).delete?.status).not.toMatch(/Failed|Canceled/);
      if (i > 600) throw new Error('the delete did not end within 10 minutes');
      await sleep(1_000);
    }
    const max = await watcher.stop();
    const t = await expectCancelledThenDeleted(c, max);
    console.log(
      `Subscription Deleted mid-create: create ended ${t.createClosedAt - started} ms after the notification, the delete acted ${t.deleteFirstActs - t.createClosedAt} ms after that, all done in ${Date.now() - started} ms; max seen ${JSON.stringify(max)}`,
    );
  }, 900_000);
});
