// Names and payload types shared by the API (which starts and signals workflows), the worker
// (which registers them) and the workflows themselves. Types and constants only: imported by
// workflow code, so nothing here may do I/O.
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
}

/**
 * The workflow type started for each kind of operation. Until the lifecycle workflows exist
 * (create/scale/delete with Vault, Blob, Terraform and Consul), every kind runs the clearly
 * named stand-in, which only moves the store records along.
 */
export const WORKFLOW_TYPE_FOR_KIND: Record<OperationKind, string> = {
  create: 'clusterOperationStandIn',
  update: 'clusterOperationStandIn',
  scale: 'clusterOperationStandIn',
  delete: 'clusterOperationStandIn',
  upgrade: 'clusterOperationStandIn',
  snapshot: 'clusterOperationStandIn',
  restore: 'clusterOperationStandIn',
  rotate: 'clusterOperationStandIn',
  maintenance: 'clusterOperationStandIn',
};

/** Query every operation workflow answers: where it is. */
export const PROGRESS_QUERY = 'progress';
export interface OperationProgress {
  step: string;
  percentComplete: number;
}
