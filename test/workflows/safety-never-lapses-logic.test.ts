// Issue 12, item 1, fast part: a failed or cancelled day-2 operation (automatic snapshot, root
// token, certificate rotation, upgrade) leaves the cluster's provisioningState as it was and the
// operation carries the failure; only create, update, scale and delete move it. Certificate
// rotation and automatic snapshots fire on any cluster with servers, Failed included, and a
// failed rotation does not stop the next one.
//
// The real day-2 workflows and schedule-firing workflows run on the real Temporal server with
// the real store, lifecycle and snapshot activities over the real store, Vault and Blob; only the
// steps that would talk to Consul servers (this cluster has none running) are stand-ins that
// succeed or fail as each test asks. The cluster record itself is made through the real API
// (its create runs the stand-in workflow). test/lifecycle/safety-never-lapses.test.ts shows the
// same on a real cluster.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { createClusterActivities, type ClusterActivities } from '../../activities/cluster-activities.js';
import { GATE_TIMEOUT_ATTEMPTS } from '../../activities/polling.js';
import { Context } from '@temporalio/activity';
import { createSnapshotActivities, type SnapshotActivities } from '../../activities/snapshots.js';
import { createStoreActivities } from '../../activities/store.js';
import { buildLifecycleDeps } from '../../apps/worker/src/lifecycle-config.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import { workflowIdFor, type OperationKind } from '../../domain/resource-id.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { getCluster, setClusterServers, setSpecConsulVersion } from '../../store/clusters.js';
import { getOperation, beginOperation, listOperations, updateOperation, type OperationRecord } from '../../store/operations.js';
import { listSnapshots } from '../../store/snapshots.js';
import type { ClusterOperationInput } from '../../contract/temporal.js';
import { useControlPlane, useTemporalClient, useWorkflowWorker } from '../support/control-plane-fixture.js';
import { lifecycleConfig } from '../support/lifecycle.js';
import { windowHoursAway } from '../support/windows.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';

const stack = inject('stack');
const taskQueue = `safety-logic-${randomUUID()}`;
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];

/** What the Consul-facing stand-ins do for one cluster. */
interface Behaviour {
  snapshotFails?: boolean;
  tokenFails?: boolean;
  healthFails?: boolean;
  secretsFail?: boolean;
}
const behaviour = new Map<string, Behaviour>();
const of = (resourceKey: string) => behaviour.get(resourceKey) ?? {};
/** As the real gates: out of time on their third attempt, they are final. */
const consulDown = (what: string) =>
  ApplicationFailure.create({
    message: `${what}: no server answered`,
    type: 'ClusterNotHealthy',
    nonRetryable: Context.current().info.attempt >= GATE_TIMEOUT_ATTEMPTS,
  });

/** The steps that would reach the cluster's Consul servers. */
const consulFacing: Partial<ClusterActivities & SnapshotActivities> = {
  publishServerFiles: async () => ({ certificatesIssued: 3 }),
  waitForServedCertificates: async (a) => ({ servers: a.servers.length }),
  waitForHealthyCluster: async (a) => {
    if (of(a.plan.resourceKey).healthFails) throw consulDown('health gate');
    return { leader: a.servers[0]!.address, voters: a.servers.length };
  },
  ensureEndpoint: async (a) => ({ fqdn: a.plan.fqdn, privateFqdn: `private.${a.plan.fqdn}`, certificateNotAfter: null }),
  rotateRootToken: async (a) => {
    if (of(a.plan.resourceKey).tokenFails)
      throw ApplicationFailure.nonRetryable('the cluster has no initial-management token; it was never generated', 'SecretMissing');
    return { accessorId: randomUUID() };
  },
  saveClusterSnapshot: async (a) => {
    if (of(a.resourceKey).snapshotFails) throw ApplicationFailure.nonRetryable('consul answered 500 to /v1/snapshot', 'SnapshotNotReady');
    return { sizeBytes: 1, consulVersion: older };
  },
  findLeader: async (a) => ({ address: a.servers[0]!.address }),
  transferLeadership: async (a) => ({ leader: a.to ?? a.from }),
  setServerVersion: async () => ({ changed: true }),
  waitForServerVersion: async () => ({ seconds: 0 }),
  ensureClusterSecrets: async (a) => {
    if (of(a.resourceKey).secretsFail)
      throw ApplicationFailure.nonRetryable('variable vnet_cidr is invalid', 'TerraformConfigurationInvalid');
    return { names: [] };
  },
};

const cp = useControlPlane(stack);
useWorkflowWorker(stack, taskQueue, () => {
  const deps = buildLifecycleDeps(lifecycleConfig(stack), {
    db: cp.db,
    sealer: new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys))),
  });
  return {
    ...createStoreActivities({ db: cp.db }),
    ...createClusterActivities(deps),
    ...createSnapshotActivities(deps),
    ...consulFacing,
  };
});
const client = useTemporalClient(stack);

const servers = [0, 1, 2].map((index) => ({ index, name: `s-${index}`, zone: String(index + 1), address: `127.9.1.${index + 2}` }));
let cidr = 0;

/** A cluster made through the API (Succeeded), its upgrade window hours away; with servers recorded as a create records them. */
async function cluster(o: { withServers?: boolean } = {}): Promise<{ key: string; subscriptionId: string }> {
  const subscriptionId = randomUUID();
  await cp.registerSubscription(subscriptionId);
  const path = clusterPath(subscriptionId, 'rg', `safe-${randomUUID().slice(0, 8)}`);
  const put = await rest(cp, 'PUT', `${path}?${V}`, {
    body: clusterBody(older, `10.${120 + cidr++}.0.0/16`, {
      serverCount: 3,
      maintenanceWindow: windowHoursAway(),
      upgradePolicy: { automaticPatchUpgrades: false },
    }),
  });
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  await waitForState(cp, path, ['Succeeded']);
  const key = path.toLowerCase();
  if (o.withServers !== false) await setClusterServers(cp.db, key, servers, {});
  return { key, subscriptionId };
}

const stateOf = async (key: string) => (await getCluster(cp.db, key))!.provisioningState;

/** Records an operation as the API does, then runs its workflow to its end. */
async function runOperation(
  c: { key: string; subscriptionId: string },
  kind: OperationKind,
  workflowType: string,
  params: ClusterOperationInput['params'] = {},
  whileRunning?: (op: OperationRecord, cancel: () => Promise<void>) => Promise<void>,
): Promise<{ op: OperationRecord; failed: boolean }> {
  const operationId = randomUUID();
  const workflowId = workflowIdFor(c.key, kind, operationId);
  const op = await beginOperation(cp.db, {
    operationId,
    resourceKey: c.key,
    subscriptionId: c.subscriptionId,
    location: 'westeurope',
    kind,
    workflowId,
    correlationId: 'safety-logic',
  });
  const input: ClusterOperationInput = {
    operationId,
    kind,
    resourceKey: c.key,
    resourceId: c.key,
    subscriptionId: c.subscriptionId,
    correlationId: 'safety-logic',
    params,
  };
  const handle = await client.workflow.start(workflowType, { taskQueue, workflowId, args: [input] });
  if (whileRunning) await whileRunning(op, async () => void (await handle.cancel()));
  const failed = await handle.result().then(
    () => false,
    (err: unknown) => {
      if (err instanceof WorkflowFailedError) return true;
      throw err;
    },
  );
  return { op: (await getOperation(cp.db, operationId))!, failed };
}

/** Runs one firing of a cluster's certificate or snapshot schedule; its result, or that it failed. */
async function fire(
  key: string,
  workflowType: 'scheduledCertificateRotation' | 'scheduledSnapshot',
): Promise<{ skipped?: string; operationId?: string; failed?: true }> {
  const handle = await client.workflow.start(workflowType, {
    taskQueue,
    workflowId: `${workflowType}/${key.slice(1)}/${randomUUID()}`,
    args: [{ resourceKey: key }],
  });
  return handle.result().then(
    (r) => r as { skipped?: string; operationId?: string },
    (err: unknown) => {
      if (err instanceof WorkflowFailedError) return { failed: true as const };
      throw err;
    },
  );
}

const lastOperation = async (key: string, kind: string) => (await listOperations(cp.db, key)).find((o) => o.kind === kind)!;

describe.sequential('a failed day-2 operation leaves provisioningState alone', () => {
  it('a failed automatic snapshot: the operation is Failed with the reason, the snapshot FAILED, the cluster still Succeeded', async () => {
    const c = await cluster();
    behaviour.set(c.key, { snapshotFails: true });
    expect(await fire(c.key, 'scheduledSnapshot')).toEqual({ failed: true });
    const op = await lastOperation(c.key, 'snapshot');
    expect(op).toMatchObject({
      status: 'Failed',
      error: { code: 'SnapshotNotReady', message: 'snapshot failed: consul answered 500 to /v1/snapshot' },
    });
    expect((await listSnapshots(cp.db, c.key)).map((s) => `${s.kind}:${s.state}`)).toEqual(['AUTOMATIC:FAILED']);
    expect(await stateOf(c.key)).toBe('Succeeded');
  });

  it('a failed root-token rotation: Failed with the reason, the cluster still Succeeded', async () => {
    const c = await cluster();
    behaviour.set(c.key, { tokenFails: true });
    const { op, failed } = await runOperation(c, 'token', 'rotateRootToken');
    expect(failed).toBe(true);
    expect(op).toMatchObject({
      status: 'Failed',
      error: { code: 'SecretMissing', message: 'root-token failed: the cluster has no initial-management token; it was never generated' },
    });
    expect(await stateOf(c.key)).toBe('Succeeded');
  });

  it('a failed certificate rotation: Failed with the reason, the cluster still Succeeded, and the next firing rotates', async () => {
    const c = await cluster();
    behaviour.set(c.key, { healthFails: true });
    expect(await fire(c.key, 'scheduledCertificateRotation')).toEqual({ failed: true });
    expect(await lastOperation(c.key, 'rotate')).toMatchObject({
      status: 'Failed',
      error: { code: 'ClusterNotHealthy', message: 'health-gate failed: health gate: no server answered' },
    });
    expect(await stateOf(c.key)).toBe('Succeeded');
    behaviour.set(c.key, {});
    const next = await fire(c.key, 'scheduledCertificateRotation');
    expect(next).toMatchObject({ operationId: expect.any(String) });
    expect(await getOperation(cp.db, next.operationId!)).toMatchObject({ kind: 'rotate', status: 'Succeeded' });
    expect(await stateOf(c.key)).toBe('Succeeded');
  }, 60_000);

  it('an upgrade cancelled while it waits for its window: Canceled, the cluster still Succeeded', async () => {
    const c = await cluster();
    const { op, failed } = await runOperation(c, 'upgrade', 'upgradeCluster', { targetVersion: newer }, async (started, cancel) => {
      for (
        let i = 0;
        i < 200 && !(await getOperation(cp.db, started.operationId))?.step?.startsWith('waiting for the maintenance window');
        i++
      )
        await new Promise((r) => setTimeout(r, 100));
      await cancel();
    });
    expect(failed).toBe(true);
    expect(op).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
    expect(op.error!.message).toContain('waiting for the maintenance window');
    expect(await stateOf(c.key)).toBe('Succeeded');
  });
});

describe.sequential('safety work runs on a Failed cluster that has servers', () => {
  let c: { key: string; subscriptionId: string };

  it('a failed scale (a lifecycle operation) does mark the cluster Failed', async () => {
    c = await cluster();
    behaviour.set(c.key, { secretsFail: true });
    const { op, failed } = await runOperation(c, 'scale', 'scaleCluster');
    expect(failed).toBe(true);
    expect(op).toMatchObject({ status: 'Failed', error: { code: 'TerraformConfigurationInvalid' } });
    expect(await stateOf(c.key)).toBe('Failed');
    behaviour.set(c.key, {});
  });

  it('certificate rotation fires on it, succeeds, and leaves it Failed', async () => {
    const r = await fire(c.key, 'scheduledCertificateRotation');
    expect(r).toMatchObject({ operationId: expect.any(String) });
    expect(await getOperation(cp.db, r.operationId!)).toMatchObject({ kind: 'rotate', status: 'Succeeded' });
    expect(await stateOf(c.key)).toBe('Failed');
  });

  it('an automatic snapshot fires on it, succeeds, and leaves it Failed', async () => {
    const r = await fire(c.key, 'scheduledSnapshot');
    expect(r).toMatchObject({ operationId: expect.any(String) });
    expect(await getOperation(cp.db, r.operationId!)).toMatchObject({ kind: 'snapshot', status: 'Succeeded' });
    expect(await stateOf(c.key)).toBe('Failed');
  });

  it('a successful upgrade records the version the cluster runs and leaves it Failed', async () => {
    await setSpecConsulVersion(cp.db, c.key, newer, `"${randomUUID()}"`);
    const { op } = await runOperation(c, 'upgrade', 'upgradeCluster', { targetVersion: newer, force: true });
    expect(op.status).toBe('Succeeded');
    const record = (await getCluster(cp.db, c.key))!;
    expect(record.status.currentConsulVersion).toBe(newer);
    expect(record.provisioningState).toBe('Failed');
  });

  it('a certificate firing while another operation holds the lock waits for it; a snapshot firing skips', async () => {
    const blocker = await beginOperation(cp.db, {
      operationId: randomUUID(),
      resourceKey: c.key,
      subscriptionId: c.subscriptionId,
      location: 'westeurope',
      kind: 'maintenance',
      workflowId: 'safety-logic-blocker',
      correlationId: null,
    });
    const before = (await listOperations(cp.db, c.key)).length;
    expect(await fire(c.key, 'scheduledSnapshot')).toEqual({ skipped: expect.stringContaining(blocker.operationId) });
    // A certificate is due: the firing asks again (every 30 s for 72-hour certificates) instead
    // of leaving it to the next firing a twelfth of the lifetime later.
    const firing = fire(c.key, 'scheduledCertificateRotation');
    await new Promise((r) => setTimeout(r, 3_000));
    expect((await listOperations(cp.db, c.key)).length).toBe(before);
    await updateOperation(cp.db, blocker.operationId, { status: 'Succeeded' });
    const fired = await firing;
    expect(fired).toEqual({ operationId: expect.any(String) });
    expect(await getOperation(cp.db, fired.operationId!)).toMatchObject({ kind: 'rotate', status: 'Succeeded' });
  });

  it('a cluster without recorded servers (not built yet) is skipped by both firings', async () => {
    const bare = await cluster({ withServers: false });
    expect(await fire(bare.key, 'scheduledCertificateRotation')).toEqual({ skipped: 'the cluster has no servers yet' });
    expect(await fire(bare.key, 'scheduledSnapshot')).toEqual({ skipped: 'the cluster has no servers yet' });
    expect(await listOperations(cp.db, bare.key)).toHaveLength(1); // its create
  });
});
