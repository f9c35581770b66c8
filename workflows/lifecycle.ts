// The lifecycle workflows' common part (the activity proxies, `operation` with its progress and
// failure recording) and the delete and root-token rotation; create, update and scale are in
// converge.ts. Every step is an idempotent activity; progress (step and percent) is recorded on
// the operation and answered by the `progress` query. Deterministic: no I/O here, only activity calls.
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
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { StoreActivities } from '../activities/store.js';
import { NON_RETRYABLE_ERRORS } from '../contract/errors.js';
import { heartbeatingRetry } from '../contract/retry.js';
import { operationSearchAttributes, PROGRESS_QUERY, type ClusterOperationInput, type OperationProgress } from '../contract/temporal.js';
import { takeClusterForDelete } from './delete-queue.js';
import { isContinueAsNew } from './history-budget.js';

export const REMOVE_PEERINGS_PATCH = 'delete-removes-peerings';
/** A public endpoint's ACME certificate is ordered before the servers' files, which carry it (create, update, scale, rotation). */
export const ENDPOINT_CERTIFICATE_FIRST_PATCH = 'endpoint-certificate-first';

/**
 * Activities without a heartbeat (the store's statements, the schedules' quick checks): 2 s
 * doubling to a minute between attempts. Heartbeating ones use contract/retry.ts
 * heartbeatingRetry: the same backoff for their failures, one second after a lost worker.
 */
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

/**
 * Activities heartbeat every 2 s (activities/polling.ts HEARTBEAT_EVERY_MS: long ones themselves,
 * the rest through the worker's liveness interceptor): a worker that dies in the middle of one is
 * noticed after this, and the activity runs again on another worker one second later whatever its
 * attempt (contract/retry.ts), so it resumes within about 11 s of the crash.
 */
export const HEARTBEAT_TIMEOUT = '10 seconds';

/**
 * Quick calls to Vault, Blob, the store, Consul's API. They heartbeat through the worker's
 * liveness interceptor (activities/polling.ts), so one lost with its worker runs again after
 * HEARTBEAT_TIMEOUT, not after its minute.
 */
export const quick = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(10),
  ...untilStopped,
});
/** Terraform runs: long, heartbeating every 2 s and with every line of output. */
export const infra = proxyActivities<ClusterActivities>({
  ...untilStopped,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(10),
});
/**
 * Health gates, certificate orders and peerings ending: polling with heartbeats. A gate that runs out of time three
 * times fails the operation (activities/polling.ts GATE_TIMEOUT_ATTEMPTS); the other attempts
 * wait out a dependency that is down (Vault, the store, Blob, the ACME CA): 2+4+8+16+32+60+60 s
 * between eight attempts (the worker's failure backoff, activities/retry-delay.ts), so an outage
 * of a minute or two does not fail the operation.
 */
export const gate = proxyActivities<ClusterActivities>({
  ...untilStopped,
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(8),
});

/** The per-cluster snapshot schedule (activities/snapshots.ts). */
export const schedules = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(10),
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
  /** Records a step's progress on the operation; default store.recordProgress (an activity). */
  recordProgress?: (p: { operationId: string; step: string; percentComplete: number }) => Promise<void>;
}

/**
 * Runs `fn` as the named part of an operation: should it fail (not by cancellation), the
 * operation's error names this part rather than the last recorded step. For steps that run in
 * parallel, where the recorded step cannot say which of them failed.
 */
export type Phase = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** Runs `body` with progress reporting and records the outcome (also when cancelled). */
export async function operation(
  input: ClusterOperationInput,
  body: (step: Step, phase: Phase) => Promise<void>,
  hooks: OperationHooks = {},
) {
  let progress: OperationProgress = { step: 'accepted', percentComplete: 0 };
  setHandler(progressQuery, () => progress);
  const ref = { operationId: input.operationId, resourceKey: input.resourceKey };
  const recordProgress = hooks.recordProgress ?? store.recordProgress;
  const step: Step = async (name, percentComplete) => {
    // Moved on only once recorded: a workflow cancelled while an activity finished (it waits for
    // its activities) fails here and names the step it was in.
    const next = { step: name, percentComplete };
    await recordProgress({ operationId: input.operationId, ...next });
    progress = next;
  };
  // The part each failure arose in (the innermost phase names it).
  const failedIn = new WeakMap<object, string>();
  const phase: Phase = async (name, fn) => {
    try {
      return await fn();
    } catch (err) {
      if (typeof err === 'object' && err !== null && !isCancellation(err) && !failedIn.has(err)) failedIn.set(err, name);
      throw err;
    }
  };
  const failedStep = (err: unknown) => (typeof err === 'object' && err !== null ? failedIn.get(err) : undefined) ?? progress.step;
  try {
    await body(step, phase);
    progress = { step: 'done', percentComplete: 100 };
  } catch (err) {
    // A long wait continuing in a new run: the operation goes on there.
    if (isContinueAsNew(err)) throw err;
    const status = isCancellation(err) ? 'Canceled' : 'Failed';
    const error = describeFailure(err, failedStep(err));
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
    // Peers are told the peering ended before the servers go (deletes started before this existed replay without it).
    if (patched(REMOVE_PEERINGS_PATCH)) {
      await step('peerings', 7);
      await gate.removePeerings({ plan, servers: await quick.loadClusterServers(ref) });
    }
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
