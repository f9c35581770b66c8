// The snapshot workflows: take a snapshot (on request, MANUAL, or from the cluster's schedule,
// AUTOMATIC) followed by retention, delete one, and restore one (taking a snapshot first unless
// told not to, then the health gate). Each is a cluster operation: progress on the operation
// record and the `progress` query, the outcome recorded also when it fails or is cancelled. The
// schedule's workflow records its operation only when no other operation is active on the
// cluster, and otherwise skips the firing. Deterministic: no I/O here, only activity calls.
import { defineSearchAttributeKey } from '@temporalio/common';
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  executeChild,
  isCancellation,
  log,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
  type RetryPolicy,
} from '@temporalio/workflow';
import type { LifecycleActivities } from '../activities/lifecycle.js';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { StoreActivities } from '../activities/store.js';
import { NON_RETRYABLE_ERRORS, PROGRESS_QUERY, type ClusterOperationInput, type OperationProgress } from './contract.js';

const retry: RetryPolicy = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
};

const store = proxyActivities<StoreActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { ...retry, initialInterval: '1 second', maximumAttempts: 20 },
});
/** Records, blobs, schedules: quick calls. */
const records = proxyActivities<SnapshotActivities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 10 } });
/** Streaming a snapshot out of or into Consul: as long as the data needs, heartbeating the bytes moved. */
const transfer = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 3 },
});
const quick = proxyActivities<LifecycleActivities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 10 } });
/** The lifecycle's health gate, polling with heartbeats. */
const gate = proxyActivities<LifecycleActivities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 3 },
});

// The search attributes the API sets on every operation workflow (see operation-starter.ts).
const ClusterId = defineSearchAttributeKey('ClusterId', 'KEYWORD');
const SubscriptionId = defineSearchAttributeKey('SubscriptionId', 'KEYWORD');
const ResourceGroup = defineSearchAttributeKey('ResourceGroup', 'KEYWORD');
const Operation = defineSearchAttributeKey('Operation', 'KEYWORD');

const progressQuery = defineQuery<OperationProgress>(PROGRESS_QUERY);

type Step = (name: string, percent: number) => Promise<void>;

/**
 * Runs `body` with progress reporting and ends the operation Succeeded, or Failed/Canceled with
 * the failing step and its typed reason after `onFailure` (e.g. marking the snapshot FAILED).
 */
async function snapshotOperation(input: ClusterOperationInput, body: (step: Step) => Promise<void>, onFailure?: () => Promise<void>) {
  let progress: OperationProgress = { step: 'accepted', percentComplete: 0 };
  setHandler(progressQuery, () => progress);
  const step: Step = async (name, percentComplete) => {
    progress = { step: name, percentComplete };
    await store.recordProgress({ operationId: input.operationId, ...progress });
  };
  try {
    await body(step);
    await records.endSnapshotOperation({ operationId: input.operationId, status: 'Succeeded' });
    progress = { step: 'done', percentComplete: 100 };
  } catch (err) {
    await CancellationScope.nonCancellable(async () => {
      await onFailure?.();
      await records.endSnapshotOperation({
        operationId: input.operationId,
        status: isCancellation(err) ? 'Canceled' : 'Failed',
        error: describeFailure(err, progress.step),
      });
    });
    throw err;
  }
}

/** The error shown on the operation: the failing step and the activity's typed reason (never a secret). */
function describeFailure(err: unknown, step: string): { code: string; message: string } {
  if (isCancellation(err)) return { code: 'OperationCanceled', message: `The operation was canceled on request during ${step}.` };
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) return { code: cause.type ?? 'OperationFailed', message: `${step} failed: ${cause.message}` };
  return { code: 'InternalError', message: `${step} failed with an internal error; SREs have the details.` };
}

function snapshotIdOf(input: ClusterOperationInput): string {
  const id = input.params?.snapshotId;
  if (!id) throw ApplicationFailure.nonRetryable(`a ${input.kind} operation needs params.snapshotId`, 'InvalidOperationInput');
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
  if (!begun.started) {
    log.info('scheduled snapshot skipped', { resourceKey: a.resourceKey, reason: begun.reason });
    return { skipped: begun.reason };
  }
  await executeChild(snapshotCluster, {
    workflowId: begun.workflowId,
    args: [begun.input],
    // The operation outlives this firing's workflow should it be terminated; it ends itself.
    parentClosePolicy: ParentClosePolicy.ABANDON,
    memo: { correlationId: begun.input.correlationId },
    typedSearchAttributes: [
      { key: ClusterId, value: a.resourceKey },
      { key: SubscriptionId, value: begun.input.subscriptionId.toLowerCase() },
      { key: ResourceGroup, value: begun.resourceGroup.toLowerCase() },
      { key: Operation, value: 'snapshot' },
    ],
  });
  return { operationId, snapshotId };
}
