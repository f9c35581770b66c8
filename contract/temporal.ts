// Names and payload types shared by the API (which starts and signals workflows), the worker
// (which registers them) and the workflows themselves. Types and constants only: imported by
// workflow code, so nothing here may do I/O.
import { defineSearchAttributeKey } from '@temporalio/common';
import type { OperationKind } from '../domain/resource-id.js';

/** Task queue of the control-plane worker. */
export const CONTROL_PLANE_TASK_QUEUE = 'hcs-control-plane';

/** Input of every per-cluster operation workflow. References only: never a secret. */
export interface ClusterOperationInput {
  operationId: string;
  kind: OperationKind;
  /** Lower-case resource id (store key). */
  resourceKey: string;
  /** Resource id as the customer wrote it. */
  resourceId: string;
  subscriptionId: string;
  /** Carried from the API request into every activity's logs. */
  correlationId: string;
  /** What the operation acts on, for kinds that need it; never a secret. */
  params?: OperationParams;
}

export interface OperationParams {
  /** snapshot, snapshotdelete, restore: the snapshot's id. */
  snapshotId?: string;
  /** restore: take a snapshot first (default true). */
  takeSnapshotFirst?: boolean;
  /** upgrade: the Consul version to move to. */
  targetVersion?: string;
  /** upgrade and other disruptive kinds: start now instead of waiting for the maintenance window. */
  force?: boolean;
  /** snapshot: started by the cluster's snapshot schedule (AUTOMATIC) rather than on request. */
  scheduled?: boolean;
  /** peeringtoken, peering: the peer's name in this cluster (the token itself is sealed in the store, never here). */
  peerName?: string;
  /** restart, repair: the index of the server to act on (ServerInfo.index). */
  serverIndex?: number;
  /** rotate: requested (rotateCertificates): renew every server certificate, due or not. */
  renewAll?: boolean;
  /** repair: started by the cluster's health check rather than on request; why. */
  detectedProblem?: string;
}

/** Which workflow type runs each kind of operation; null: none does (starting it is refused). */
export type WorkflowTypes = Readonly<Record<OperationKind, string | null>>;

/**
 * The workflow type started for each kind of operation in production. The maintenance requests
 * are `restart` (restartServer) and `repair` (repairServer); the rotateCertificates request is a
 * `rotate`. `maintenance` itself is a reserved kind no workflow runs: the API refuses to start it
 * before recording anything (it never runs the stand-in).
 */
export const WORKFLOW_TYPE_FOR_KIND = {
  create: 'createCluster',
  update: 'updateCluster',
  scale: 'scaleCluster',
  delete: 'deleteCluster',
  token: 'rotateRootToken',
  upgrade: 'upgradeCluster',
  snapshot: 'snapshotCluster',
  snapshotdelete: 'deleteClusterSnapshot',
  restore: 'restoreCluster',
  rotate: 'rotateCertificates',
  restart: 'restartServer',
  repair: 'repairServer',
  peeringtoken: 'generatePeeringToken',
  peering: 'establishPeering',
  maintenance: null,
} as const satisfies WorkflowTypes;

/** Starting an operation of a kind no workflow runs (maintenance in production). */
export class OperationNotAvailableError extends Error {
  constructor(readonly kind: OperationKind) {
    super(`${kind} operations are not available yet: no workflow runs them. Nothing was recorded or started.`);
    this.name = 'OperationNotAvailableError';
  }
}

/** The workflow type that runs `kind`; throws OperationNotAvailableError when there is none. */
export function workflowTypeFor(kind: OperationKind, types: WorkflowTypes = WORKFLOW_TYPE_FOR_KIND): string {
  const type = types[kind];
  if (!type) throw new OperationNotAvailableError(kind);
  return type;
}

/**
 * Every kind on the stand-in: what the API's contract tests run, so they exercise the API's
 * asynchronous protocol alone, without building clusters. Never used in production.
 */
export const STAND_IN_WORKFLOW_TYPES: Record<OperationKind, string> = Object.fromEntries(
  Object.keys(WORKFLOW_TYPE_FOR_KIND).map((k) => [k, 'clusterOperationStandIn']),
) as Record<OperationKind, string>;

/** Workflow type each cluster's snapshot schedule starts (it records an AUTOMATIC snapshot operation). */
export const SNAPSHOT_SCHEDULE_WORKFLOW = 'scheduledSnapshot';

/**
 * Signals of every workflow that waits for the maintenance window (upgrade, server restart and
 * repair; workflows/maintenance-window.ts): start now, or wait until the given ISO time.
 */
export const UPGRADE_SIGNAL = { force: 'force', defer: 'defer' } as const;

/** Query every operation workflow answers: where it is. */
export const PROGRESS_QUERY = 'progress';
export interface OperationProgress {
  step: string;
  percentComplete: number;
}

/** The workflow each firing of a cluster's certificate schedule starts. */
export const CERTIFICATE_SCHEDULE_WORKFLOW = 'scheduledCertificateRotation';

/** Search attributes every operation workflow carries, so SREs find it in the Temporal UI. */
export const SEARCH_ATTRIBUTE = {
  clusterId: defineSearchAttributeKey('ClusterId', 'KEYWORD'),
  subscriptionId: defineSearchAttributeKey('SubscriptionId', 'KEYWORD'),
  resourceGroup: defineSearchAttributeKey('ResourceGroup', 'KEYWORD'),
  operation: defineSearchAttributeKey('Operation', 'KEYWORD'),
  /** The request's x-ms-correlation-request-id (a schedule firing: its own workflow id), so a support ticket finds its workflows. */
  correlationId: defineSearchAttributeKey('CorrelationId', 'KEYWORD'),
} as const;

/**
 * Header that carries a workflow's correlation id to each activity it schedules (set by
 * workflows/correlation.ts, read by apps/worker/src/correlation.ts into the activity's log lines).
 */
export const CORRELATION_HEADER = 'hcs-correlation-id';

/** The search attributes of one operation's workflow. */
export function operationSearchAttributes(input: ClusterOperationInput, resourceGroup: string) {
  return [
    ...clusterSearchAttributes(input, resourceGroup, input.kind),
    { key: SEARCH_ATTRIBUTE.correlationId, value: input.correlationId },
  ];
}

/** The search attributes of a workflow about one cluster (operations and schedule firings). */
export function clusterSearchAttributes(c: { resourceKey: string; subscriptionId: string }, resourceGroup: string, operation: string) {
  return [
    { key: SEARCH_ATTRIBUTE.clusterId, value: c.resourceKey },
    { key: SEARCH_ATTRIBUTE.subscriptionId, value: c.subscriptionId.toLowerCase() },
    { key: SEARCH_ATTRIBUTE.resourceGroup, value: resourceGroup.toLowerCase() },
    { key: SEARCH_ATTRIBUTE.operation, value: operation },
  ];
}

/** The control plane's server health check (one workflow per task queue) and its workflow type. */
export const SERVER_HEALTH_WORKFLOW_ID = 'fleet/server-health';
export const SERVER_HEALTH_WORKFLOW = 'fleetServerHealth';

/** The control plane's schedule of automatic patch upgrades and the workflow it starts. */
export const FLEET_UPGRADE_SCHEDULE = 'fleet/automatic-upgrades';
export const FLEET_UPGRADE_WORKFLOW = 'fleetAutomaticUpgrades';
