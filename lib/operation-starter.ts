// The one way an operation begins, whoever begins it (the API, the fleet's automatic upgrades,
// the certificate and snapshot schedules): its record and the caller's writes commit in one
// transaction under the one-operation rule (store/operations.ts beginOperation). The API also
// commits the workflow's start request in that transaction (a transactional outbox,
// store/operation-starts.ts) and answers at once; a relay (lib/operation-relay.ts) starts the
// workflow. Others start it here right after the commit (startRecordedOperation). Either way the
// workflow's id is deterministic, so a retry cannot start a second one. A start that fails
// ambiguously (a deadline) is looked up in Temporal: started counts as started; only a workflow
// Temporal does not have fails the operation and frees the cluster; when Temporal cannot be
// asked, the operation keeps the lock (two workflows must never act on one cluster) and can be
// cancelled. A schedule's firing records here and starts the workflow as its own child.
import { context, propagation } from '@opentelemetry/api';
import { Client, Connection, WorkflowIdReusePolicy, WorkflowNotFoundError, type WorkflowClient } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import {
  CONTROL_PLANE_TASK_QUEUE,
  OperationNotAvailableError,
  operationSearchAttributes,
  WORKFLOW_TYPE_FOR_KIND,
  workflowTypeFor,
  type ClusterOperationInput,
  type OperationParams,
  type WorkflowTypes,
} from '../contract/temporal.js';
import { workflowIdFor, type OperationKind } from '../domain/resource-id.js';
import type { ClusterRecord } from '../store/clusters.js';
import type { SqlDatabase, SqlExecutor } from '../store/database.js';
import { insertStartRequest } from '../store/operation-starts.js';
import { beginOperation, updateOperation, type OperationRecord } from '../store/operations.js';
import { setAuditCaller } from '../store/audit-log.js';
import { countOperationEnded, countOperationStarted } from './metrics.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from './temporal-connection.js';
import { workflowClientInterceptors } from './temporal-tracing.js';

/** The task queue of a starter's workflows. */
export function starterTaskQueue(s: { taskQueue?: string }): string {
  return s.taskQueue ?? CONTROL_PLANE_TASK_QUEUE;
}

/** What an operation's workflow is started with. */
export type OperationWorkflowStart = ClusterOperationInput & { workflowId: string; resourceGroup: string };

/** What beginning an operation needs of Temporal (the worker's activities get only this). */
export interface WorkflowStarter {
  /** Starts the operation's workflow; its id is deterministic, so a retry cannot start a second one. */
  start(input: OperationWorkflowStart): Promise<void>;
  /**
   * Whether Temporal has the workflow: after a start that failed ambiguously (a deadline), the
   * answer says whether it was accepted anyway. Throws when Temporal cannot be asked.
   */
  find(workflowId: string): Promise<'running' | 'closed' | 'absent'>;
}

/** The API's starter: also asks workflows to stop, and owns its connection. */
export interface OperationStarter extends WorkflowStarter {
  /** The task queue its workflows run on (default CONTROL_PLANE_TASK_QUEUE): the API's start requests are for the relays of this queue. */
  readonly taskQueue?: string;
  /** Asks the operation's workflow to stop. */
  cancel(workflowId: string): Promise<void>;
  /** Resolves when Temporal's frontend answers its health check within `timeoutMs` (readiness). */
  ping(timeoutMs: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts operation workflows through a Temporal client the caller owns (the worker's). */
export function workflowStarter(
  workflows: WorkflowClient,
  o: {
    taskQueue?: string;
    /** Which workflow runs each kind (default: the real ones; API contract tests use the stand-in). */
    workflowTypes?: WorkflowTypes;
  } = {},
): WorkflowStarter & Pick<OperationStarter, 'cancel'> & { taskQueue: string } {
  return {
    taskQueue: o.taskQueue ?? CONTROL_PLANE_TASK_QUEUE,
    async start(input) {
      const { workflowId, resourceGroup, ...args } = input;
      // A kind no workflow runs (maintenance in production) is refused before Temporal is asked.
      await workflows.start(workflowTypeFor(input.kind, o.workflowTypes), {
        taskQueue: o.taskQueue ?? CONTROL_PLANE_TASK_QUEUE,
        workflowId,
        args: [args],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        memo: { correlationId: input.correlationId },
        typedSearchAttributes: operationSearchAttributes(input, resourceGroup),
      });
    },
    async cancel(workflowId) {
      await workflows.getHandle(workflowId).cancel();
    },
    async find(workflowId) {
      try {
        const d = await workflows.getHandle(workflowId).describe();
        return d.status.name === 'RUNNING' ? 'running' : 'closed';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return 'absent';
        throw err;
      }
    },
  };
}

/** The API's starter, on its own Temporal connection. */
export async function temporalOperationStarter(o: {
  temporal: TemporalConnectionConfig;
  payloadCodec: PayloadCodec;
  taskQueue?: string;
  /** Which workflow runs each kind (default: the real ones; API contract tests use the stand-in). */
  workflowTypes?: WorkflowTypes;
}): Promise<OperationStarter> {
  const connection = await Connection.connect(temporalConnectOptions(o.temporal));
  // Workflow inputs are encrypted before they reach Temporal (the worker decrypts them).
  // The start's span (when the process traces) is a child of the request's and travels in the workflow's headers.
  const client = new Client({
    connection,
    namespace: o.temporal.namespace,
    dataConverter: { payloadCodecs: [o.payloadCodec] },
    interceptors: workflowClientInterceptors(),
  });
  return {
    ...workflowStarter(client.workflow, {
      ...(o.taskQueue ? { taskQueue: o.taskQueue } : {}),
      ...(o.workflowTypes ? { workflowTypes: o.workflowTypes } : {}),
    }),
    async ping(timeoutMs) {
      const { status } = await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
      // grpc.health.v1's ServingStatus: 1 is SERVING.
      if (Number(status) !== 1) throw Object.assign(new Error('Temporal answers its health check as not serving'), { code: 'NOT_SERVING' });
    },
    close: () => connection.close(),
  };
}

/** What beginning an operation needs to know about its cluster. */
export interface OperationTarget {
  resourceKey: string;
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  location: string;
}

/** A stored cluster as the target of an operation. */
export function operationTarget(
  c: Pick<ClusterRecord, 'resourceKey' | 'id' | 'subscriptionId' | 'resourceGroup' | 'spec'>,
): OperationTarget {
  return {
    resourceKey: c.resourceKey,
    id: c.id,
    subscriptionId: c.subscriptionId,
    resourceGroup: c.resourceGroup,
    location: c.spec.location,
  };
}

export interface OperationRequest {
  target: OperationTarget;
  kind: OperationKind;
  correlationId: string;
  /** Who asked for it (the API caller's subject), for the audit log; absent: the control plane itself. */
  startedBy?: string;
  params?: OperationParams;
  /** Fixed by a caller that may run again (a schedule's firing); a new one when absent. */
  operationId?: string;
  /** The caller's writes, in the transaction that records the operation (before the record). */
  write?: (tx: SqlExecutor, operationId: string) => Promise<void>;
  /**
   * The caller's last step before the commit, after every write: where a check that takes a lock
   * shared by many requests belongs (the subscription's, for quotas), so the lock is held for
   * that check and the commit only.
   */
  lastCheck?: (tx: SqlExecutor) => Promise<void>;
  /**
   * Commit the workflow's start request with the record, for the relays of this task queue
   * (lib/operation-relay.ts): the caller starts nothing itself.
   */
  outbox?: { taskQueue: string };
}

/** A recorded operation and what its workflow is started with. */
export interface RecordedOperation {
  operation: OperationRecord;
  workflow: OperationWorkflowStart;
}

/** The workflow start of an operation (its id follows from the cluster, the kind and the operation). */
export function operationWorkflow(r: Omit<OperationRequest, 'write' | 'lastCheck'> & { operationId: string }): OperationWorkflowStart {
  return {
    workflowId: workflowIdFor(r.target.resourceKey, r.kind, r.operationId),
    resourceGroup: r.target.resourceGroup,
    operationId: r.operationId,
    kind: r.kind,
    resourceKey: r.target.resourceKey,
    resourceId: r.target.id,
    subscriptionId: r.target.subscriptionId,
    correlationId: r.correlationId,
    ...(r.params ? { params: r.params } : {}),
  };
}

/**
 * Records the operation with the caller's writes in one transaction (the store's, or the
 * caller's own when `db` is a transaction already); throws
 * OperationInProgressError (store/operations.ts) naming the operation that holds the cluster
 * when the one-operation rule refuses it. Starts nothing. A kind no production workflow runs
 * (maintenance) is refused first (OperationNotAvailableError): no write, no record.
 */
export async function recordOperation(db: SqlDatabase | SqlExecutor, r: OperationRequest): Promise<RecordedOperation> {
  if (!WORKFLOW_TYPE_FOR_KIND[r.kind]) throw new OperationNotAvailableError(r.kind);
  const operationId = r.operationId ?? randomUUID();
  const workflow = operationWorkflow({ ...r, operationId });
  const inTransaction = <T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> => ('transaction' in db ? db.transaction(fn) : fn(db));
  const operation = await inTransaction(async (tx) => {
    if (r.startedBy) await setAuditCaller(tx, r.startedBy);
    await r.write?.(tx, operationId);
    const record = await beginOperation(tx, {
      operationId,
      resourceKey: r.target.resourceKey,
      subscriptionId: r.target.subscriptionId,
      location: r.target.location,
      kind: r.kind,
      workflowId: workflow.workflowId,
      correlationId: r.correlationId,
    });
    if (r.outbox) await writeStartRequest(tx, workflow, r.outbox.taskQueue);
    await r.lastCheck?.(tx);
    return record;
  });
  countOperationStarted(operation.kind);
  return { operation, workflow };
}

/**
 * The workflow's start request, in the transaction that records its operation (the outbox): what
 * it is started with and the trace context of the caller, so the relay's start joins the
 * request's trace. Nothing secret is written (OperationParams holds ids, versions and flags).
 */
export async function writeStartRequest(tx: SqlExecutor, workflow: OperationWorkflowStart, taskQueue: string): Promise<void> {
  const traceContext: Record<string, string> = {};
  propagation.inject(context.active(), traceContext);
  await insertStartRequest(tx, {
    operationId: workflow.operationId,
    taskQueue,
    workflowId: workflow.workflowId,
    start: { ...workflow },
    traceContext,
  });
}

/** Temporal does not have the workflow: the operation was ended Failed (OperationNotStarted), the cluster is free. */
export class OperationNotStartedError extends Error {
  override name = 'OperationNotStartedError';
  constructor(
    readonly operation: OperationRecord,
    /** The start's own error. */
    readonly startError: unknown,
  ) {
    super(`operation ${operation.operationId} could not be started (${startError instanceof Error ? startError.name : 'error'})`);
  }
}

/** Temporal could not say whether the workflow started: the operation keeps its status (and the lock) until confirmed or cancelled. */
export class OperationStartUnconfirmedError extends Error {
  override name = 'OperationStartUnconfirmedError';
  constructor(readonly operation: OperationRecord) {
    super(`the workflow engine did not confirm that operation ${operation.operationId} started`);
  }
}

/**
 * Starts the workflow of a recorded operation. Throws OperationNotStartedError (the record was
 * ended Failed with `notStarted` as its message) or OperationStartUnconfirmedError.
 */
export async function startRecordedOperation(
  deps: { db: SqlDatabase; starter: WorkflowStarter },
  recorded: RecordedOperation,
  notStarted = 'The operation could not be started; nothing was changed. Retry the request.',
): Promise<OperationRecord> {
  const { operation, workflow } = recorded;
  try {
    await deps.starter.start(workflow);
    return operation;
  } catch (err) {
    const found = await deps.starter.find(workflow.workflowId).catch(() => 'unknown' as const);
    if (found === 'running' || found === 'closed') return operation;
    if (found === 'absent') {
      countOperationEnded(
        await updateOperation(deps.db, operation.operationId, {
          status: 'Failed',
          error: { code: 'OperationNotStarted', message: notStarted },
        }),
      );
      throw new OperationNotStartedError(operation, err);
    }
    throw new OperationStartUnconfirmedError(operation);
  }
}

/** Records the operation (recordOperation) and starts its workflow (startRecordedOperation). */
export async function startOperation(
  deps: { db: SqlDatabase; starter: WorkflowStarter },
  r: OperationRequest & { notStarted?: string },
): Promise<OperationRecord> {
  return startRecordedOperation(deps, await recordOperation(deps.db, r), r.notStarted);
}
