// The lifecycle workflows: create, update/scale (one converging workflow under three names, so
// the Temporal UI says what was asked) and delete, plus the root-token rotation. Every step is
// an idempotent activity; progress (step and percent) is recorded on the operation and answered
// by the `progress` query. Deterministic: no I/O here, only activity calls.
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  type RetryPolicy,
  executeChild,
  log,
  ParentClosePolicy,
  patched,
} from '@temporalio/workflow';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import type { ServerInfo } from '../domain/cluster-plan.js';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { StoreActivities } from '../activities/store.js';
import { NON_RETRYABLE_ERRORS } from '../contract/errors.js';
import { operationSearchAttributes, PROGRESS_QUERY, type ClusterOperationInput, type OperationProgress } from '../contract/temporal.js';
import { takeClusterForDelete } from './delete-queue.js';

export const retry: RetryPolicy = {
  initialInterval: '2 seconds',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
};

/** One statement each: a worker lost mid-call is noticed in 10 s; an unreachable store is retried for minutes. */
export const store = proxyActivities<StoreActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { ...retry, initialInterval: '1 second', maximumAttempts: 20 },
});
/**
 * A cancelled workflow waits until its running activity has stopped (a heartbeating one is told;
 * a quick one finishes) before it ends: once its workflow has ended, nothing acts for an
 * operation any more, which is what a delete waits for (delete-queue.ts).
 */
const untilStopped = { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED };

/** Quick calls to Vault, Blob, the store, Consul's API (a lost attempt is retried after a minute). */
export const quick = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 10 },
  ...untilStopped,
});
/**
 * Long activities heartbeat every 2 s (activities/polling.ts HEARTBEAT_EVERY_MS): a worker that
 * dies in the middle of one is noticed after this, and the activity runs again on another worker
 * after the retry's first interval (2 s), so it resumes within about 12 s of the crash.
 */
export const HEARTBEAT_TIMEOUT = '10 seconds';

/** Terraform runs: long, heartbeating every 2 s and with every line of output. */
export const infra = proxyActivities<ClusterActivities>({
  ...untilStopped,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { ...retry, maximumAttempts: 10 },
});
/**
 * Health gates and certificate orders: polling with heartbeats. A gate that runs out of time three
 * times fails the operation (activities/polling.ts GATE_TIMEOUT_ATTEMPTS); the other attempts
 * wait out a dependency that is down (Vault, the store, Blob, the ACME CA): 2+4+8+16+32+60+60 s
 * between eight attempts, so an outage of a minute or two does not fail the operation.
 */
export const gate = proxyActivities<ClusterActivities>({
  ...untilStopped,
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { ...retry, maximumAttempts: 8 },
});

/** The per-cluster snapshot schedule (activities/snapshots.ts). */
const schedules = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 10 },
  ...untilStopped,
});

export const progressQuery = defineQuery<OperationProgress>(PROGRESS_QUERY);

export type Step = (name: string, percent: number) => Promise<void>;

export interface OperationHooks {
  /** Runs first when the operation fails or is cancelled (e.g. marking a snapshot FAILED). */
  onFailure?: () => Promise<void>;
  /**
   * Records the failed or cancelled end; default store.failOperation, which marks the cluster
   * only for a create, update, scale or delete (a day-2 operation leaves provisioningState alone).
   */
  recordFailure?: (status: 'Failed' | 'Canceled', error: { code: string; message: string }) => Promise<void>;
}

/** Runs `body` with progress reporting and records the outcome (also when cancelled). */
export async function operation(input: ClusterOperationInput, body: (step: Step) => Promise<void>, hooks: OperationHooks = {}) {
  let progress: OperationProgress = { step: 'accepted', percentComplete: 0 };
  setHandler(progressQuery, () => progress);
  const ref = { operationId: input.operationId, resourceKey: input.resourceKey };
  const step: Step = async (name, percentComplete) => {
    // Moved on only once recorded: a workflow cancelled while an activity finished (it waits for
    // its activities) fails here and names the step it was in.
    const next = { step: name, percentComplete };
    await store.recordProgress({ operationId: input.operationId, ...next });
    progress = next;
  };
  try {
    await body(step);
    progress = { step: 'done', percentComplete: 100 };
  } catch (err) {
    const status = isCancellation(err) ? 'Canceled' : 'Failed';
    const error = describeFailure(err, progress.step);
    await CancellationScope.nonCancellable(async () => {
      await hooks.onFailure?.();
      await (hooks.recordFailure ? hooks.recordFailure(status, error) : store.failOperation({ ...ref, status, error }));
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

/** Create, update and scale: bring the cluster to its spec, whatever state it is in now. */
async function convergeCluster(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    // A generation number for everything this operation publishes; later operations write
    // higher ones, so a stale retry can never overwrite their files (Date.now is replay-safe).
    const generation = Date.now();
    await step('plan', 2);
    const plan = await quick.loadClusterPlan(ref);
    const previous = await quick.loadClusterServers(ref);
    await step('secrets', 5);
    await quick.ensureClusterSecrets({ ...ref, primaryResourceKey: plan.federation?.primaryResourceKey });
    await step('pki', 10);
    await quick.ensureClusterPki({ plan });
    await quick.ensureClusterContainer(ref);
    // A secondary datacenter: its tokens are made in the primary before its servers start.
    if (plan.federation) await quick.joinFederation({ plan });
    const retiring = previous.filter((s) => s.index >= plan.serverCount);
    if (retiring.length) {
      await step('retire-servers', 15);
      await quick.retireServers({ plan, servers: previous.filter((s) => s.index < plan.serverCount), retiring });
    }
    await step('infrastructure', 20);
    const servers: ServerInfo[] = await infra.applyInfrastructure({ plan, serverCount: plan.serverCount });
    await step('publish-configuration', 55);
    await quick.publishServerFiles({ plan, servers, generation, bootstrapExpect: plan.serverCount });
    if (retiring.length) await quick.unpublishServers({ resourceKey: input.resourceKey, keepCount: plan.serverCount });
    await step('health-gate', 65);
    if (retiring.length) await gate.pruneRaftPeers({ plan, servers });
    await gate.waitForHealthyCluster({ plan, servers });
    if (plan.federation) {
      await step('federation', 75);
      await gate.waitForFederation({ plan, servers });
    }
    await step('acls', 80);
    await quick.configureAcls({ plan, servers });
    await step('endpoint', 85);
    const endpoint = await gate.ensureEndpoint({ plan, servers });
    await step('client-config', 95);
    await quick.publishClientConfig({ plan, servers });
    await quick.recordClusterServers({ ...ref, servers, fqdn: endpoint.fqdn });
    await step('schedules', 98);
    await schedules.ensureSnapshotSchedule(ref);
    await quick.ensureCertificateSchedule(ref);
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

export async function createCluster(input: ClusterOperationInput): Promise<void> {
  await convergeCluster(input);
}

export async function updateCluster(input: ClusterOperationInput): Promise<void> {
  await convergeCluster(input);
}

export async function scaleCluster(input: ClusterOperationInput): Promise<void> {
  await convergeCluster(input);
}

const DELETE_QUEUE_PATCH = 'delete-waits-for-other-operations';

/** Delete leaves nothing: infrastructure and its state, DNS, Blob, PKI, secrets, records. */
export async function deleteCluster(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    // Whatever else runs on the cluster is cancelled and has ended before anything here acts
    // (deletes recorded before this existed held the lock from the start).
    if (patched(DELETE_QUEUE_PATCH)) await takeClusterForDelete(input);
    await step('plan', 2);
    const plan = await quick.loadClusterPlan(ref);
    // Nothing may fire for the cluster once its infrastructure starts going.
    await step('schedules', 5);
    await schedules.removeSnapshotSchedule(ref);
    await quick.removeCertificateSchedule(ref);
    await step('infrastructure', 10);
    await infra.destroyInfrastructure({ plan });
    if (plan.federation) {
      await step('federation', 65);
      await gate.leaveFederation({ plan });
    }
    await step('endpoint', 70);
    await quick.removeEndpoint({ plan });
    await step('blob', 80);
    await quick.deleteClusterContainer(ref);
    await step('pki', 88);
    await quick.destroyClusterPki({ ...ref, primaryResourceKey: plan.federation?.primaryResourceKey });
    await step('secrets', 95);
    await quick.deleteClusterSecrets(ref);
    await store.completeDelete({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

/** createRootToken: a new root token for the customer; the API hands out its sealed result. */
export async function rotateRootToken(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    await step('root-token', 30);
    const plan = await quick.loadClusterPlan(ref);
    const servers = await quick.loadClusterServers(ref);
    await quick.rotateRootToken({ plan, servers, operationId: input.operationId });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

/** What a schedule firing recorded: the operation to run, or why it skipped. */
export type BegunOperation =
  { started: true; workflowId: string; resourceGroup: string; input: ClusterOperationInput } | { started: false; reason: string };

/**
 * Runs an operation a schedule firing recorded as a child under the operation's usual workflow
 * id, so it is followed and cancelled like any operation; it outlives the firing's workflow
 * should that be terminated (it ends itself). Returns why the firing skipped, if it did.
 */
export async function runScheduledOperation(
  begun: BegunOperation,
  workflow: (input: ClusterOperationInput) => Promise<void>,
  what: string,
): Promise<string | undefined> {
  if (!begun.started) {
    log.info(`${what} skipped`, { reason: begun.reason });
    return begun.reason;
  }
  await executeChild(workflow, {
    workflowId: begun.workflowId,
    args: [begun.input],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    memo: { correlationId: begun.input.correlationId },
    typedSearchAttributes: operationSearchAttributes(begun.input, begun.resourceGroup),
  });
  return undefined;
}
