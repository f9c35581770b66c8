// What a schedule firing does to begin its operation (the certificate schedule's rotation, the
// snapshot schedule's AUTOMATIC snapshot): find the cluster, record the operation through the
// one starter unless the cluster has no servers, is being deleted, or the firing's own check
// says no, and hand back what the firing's workflow starts as its child. Safe to retry: the
// operation id is fixed by the firing, and a recorded operation is returned as begun.
import type { ClusterOperationInput, OperationParams } from '../contract/temporal.js';
import { safetyWorkSkipReason } from '../domain/provisioning.js';
import type { OperationKind } from '../domain/resource-id.js';
import { getCluster, getClusterServers, type ClusterRecord, type ServerRecord } from '../store/clusters.js';
import type { SqlDatabase, SqlExecutor } from '../store/database.js';
import { getOperation, OperationInProgressError } from '../store/operations.js';
import { operationTarget, operationWorkflow, recordOperation } from '../lib/operation-starter.js';

export type ScheduledStart =
  | { started: true; workflowId: string; resourceGroup: string; input: ClusterOperationInput }
  | {
      started: false;
      reason: string;
      /** Another operation holds the cluster (the reason names it). */
      busy?: boolean;
    };

export interface ScheduledOperation {
  resourceKey: string;
  operationId: string;
  /** The firing's workflow id: the operation's correlation id. */
  scheduledBy: string;
  kind: OperationKind;
  params: OperationParams;
  /** Why this firing records nothing (e.g. no certificate is due); undefined to go on. */
  check?: (c: ClusterRecord, servers: ServerRecord[]) => Promise<string | undefined>;
  /** Writes in the transaction that records the operation (e.g. the snapshot's record). */
  write?: (tx: SqlExecutor, c: ClusterRecord) => Promise<void>;
}

export async function beginScheduledOperation(db: SqlDatabase | SqlExecutor, a: ScheduledOperation): Promise<ScheduledStart> {
  const c = await getCluster(db, a.resourceKey);
  if (!c) return { started: false, reason: 'the cluster is not in the store (deleted?)' };
  const request = {
    target: operationTarget(c),
    kind: a.kind,
    operationId: a.operationId,
    correlationId: a.scheduledBy,
    params: a.params,
    ...(a.write ? { write: (tx: SqlExecutor) => a.write!(tx, c) } : {}),
  };
  const { workflowId, resourceGroup, ...input } = operationWorkflow(request);
  const begun: ScheduledStart = { started: true, workflowId, resourceGroup, input };
  if (await getOperation(db, a.operationId)) return begun; // an earlier attempt recorded it
  // Whatever the cluster's provisioningState (a failed scale leaves it Failed): a cluster with
  // servers gets its safety work.
  const servers = await getClusterServers(db, a.resourceKey);
  const skip =
    safetyWorkSkipReason({ provisioningState: c.provisioningState, serverCount: servers.length }) ?? (await a.check?.(c, servers));
  if (skip !== undefined) return { started: false, reason: skip };
  try {
    await recordOperation(db, request);
  } catch (err) {
    if (err instanceof OperationInProgressError) return { started: false, reason: err.message, busy: true };
    throw err;
  }
  return begun;
}
