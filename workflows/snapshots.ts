// The snapshot workflows: take a snapshot (on request, MANUAL, or from the cluster's schedule,
// AUTOMATIC) followed by retention, delete one, and restore one (taking a snapshot first unless
// told not to, then the health gate). Each is a cluster operation: progress on the operation
// record and the `progress` query, the outcome recorded also when it fails or is cancelled. The
// schedule's workflow records its operation only when no other operation is active on the
// cluster, and otherwise skips the firing. Deterministic: no I/O here, only activity calls.
import { CancellationScope, proxyActivities, uuid4, workflowInfo } from '@temporalio/workflow';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { gate, HEARTBEAT_TIMEOUT, operation, quick, runScheduledOperation, type Step } from './lifecycle.js';
import { heartbeatingRetry } from '../contract/retry.js';
import { workerFailure } from '../contract/errors.js';

/** Records, blobs, schedules: quick calls. */
const records = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(10),
});
/** Streaming a snapshot out of or into Consul: as long as the data needs, heartbeating the bytes moved. */
const transfer = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  // Vault, the store or Blob down for a minute or two is waited out (2+4+8+16+32+60+60 s).
  retry: heartbeatingRetry(8),
});
/**
 * A snapshot operation: progress and failure recording as every operation, but its end is
 * recorded by endSnapshotOperation, which never changes the cluster's provisioning state.
 */
async function snapshotOperation(input: ClusterOperationInput, body: (step: Step) => Promise<void>, onFailure?: () => Promise<void>) {
  await operation(
    input,
    async (step) => {
      await body(step);
      await records.endSnapshotOperation({ operationId: input.operationId, status: 'Succeeded' });
    },
    {
      ...(onFailure ? { onFailure } : {}),
      recordFailure: (status, error) => records.endSnapshotOperation({ operationId: input.operationId, status, error }),
    },
  );
}

function snapshotIdOf(input: ClusterOperationInput): string {
  const id = input.params?.snapshotId;
  if (!id) throw workerFailure('InvalidOperationInput', `a ${input.kind} operation needs params.snapshotId`);
  return id;
}

/** createSnapshot and each schedule firing: save the snapshot, then apply the retention policy. */
export async function snapshotCluster(input: ClusterOperationInput): Promise<void> {
  const resourceKey = input.resourceKey;
  const snapshotId = input.params?.snapshotId;
  await snapshotOperation(
    input,
    async (step) => {
      await step('snapshot', 10);
      await transfer.saveClusterSnapshot({ resourceKey, snapshotId: snapshotIdOf(input) });
      await step('retention', 90);
      await records.applySnapshotRetention({ resourceKey });
    },
    async () => {
      if (snapshotId) await records.failClusterSnapshot({ resourceKey, snapshotId });
    },
  );
}

/** deleteSnapshot: the blob and the record. */
export async function deleteClusterSnapshot(input: ClusterOperationInput): Promise<void> {
  await snapshotOperation(input, async (step) => {
    await step('delete-snapshot', 50);
    await records.removeClusterSnapshot({ resourceKey: input.resourceKey, snapshotId: snapshotIdOf(input) });
  });
}

/**
 * restoreSnapshot: refuses what cannot work (no such snapshot, not COMPLETED, newer Consul),
 * takes a MANUAL snapshot first unless params.takeSnapshotFirst is false, streams the snapshot
 * into Consul and passes the health gate.
 */
export async function restoreCluster(input: ClusterOperationInput): Promise<void> {
  const ref = { resourceKey: input.resourceKey };
  await snapshotOperation(input, async (step) => {
    const snapshotId = snapshotIdOf(input);
    await step('check', 5);
    await records.checkSnapshotRestorable({ ...ref, snapshotId });
    if (input.params?.takeSnapshotFirst !== false) {
      await step('snapshot-before-restore', 10);
      const before = uuid4();
      await records.recordSnapshotRequest({
        ...ref,
        snapshotId: before,
        kind: 'MANUAL',
        name: `before-restore-${new Date().toISOString()}`,
      });
      try {
        await transfer.saveClusterSnapshot({ ...ref, snapshotId: before });
      } catch (err) {
        await CancellationScope.nonCancellable(() => records.failClusterSnapshot({ ...ref, snapshotId: before }));
        throw err;
      }
    }
    await step('restore', 40);
    await transfer.restoreClusterSnapshot({ ...ref, snapshotId });
    await step('health-gate', 80);
    const plan = await quick.loadClusterPlan(ref);
    const servers = await quick.loadClusterServers(ref);
    await gate.waitForHealthyCluster({ plan, servers });
  });
}

/**
 * What each firing of a cluster's snapshot schedule runs: records an AUTOMATIC snapshot and its
 * operation when no other operation is active (else skips, recording nothing), then runs
 * snapshotCluster as a child under the operation's usual workflow id, so it can be followed
 * and cancelled like any operation.
 */
export async function scheduledSnapshot(a: {
  resourceKey: string;
}): Promise<{ skipped: string } | { operationId: string; snapshotId: string }> {
  const operationId = uuid4();
  const snapshotId = uuid4();
  const begun = await records.beginScheduledSnapshot({
    resourceKey: a.resourceKey,
    operationId,
    snapshotId,
    scheduledBy: workflowInfo().workflowId,
  });
  const skipped = await runScheduledOperation(begun, snapshotCluster, 'scheduled snapshot');
  if (skipped !== undefined) return { skipped };
  return { operationId, snapshotId };
}
