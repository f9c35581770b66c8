// Store records rendered as the API's resources (proto JSON names = ARM JSON names).
import { CLUSTER_FULL_TYPE } from '../../../../domain/resource-id.js';
import type { ClusterRecord } from '../../../../store/clusters.js';
import type { OperationRecord } from '../../../../store/operations.js';

/** Read-only names under `properties` that GET returns and a GET-modify-PUT may echo back. */
export const READ_ONLY_PROPERTIES = [
  'provisioningState',
  'currentConsulVersion',
  'privateEndpointUrl',
  'publicEndpointUrl',
  'primaryClusterId',
  'earliestServerCertificateExpiry',
  'lastSuccessfulSnapshotTime',
];

export interface ClusterView {
  id: string;
  name: string;
  type: string;
  location: string;
  tags: Record<string, string>;
  etag: string;
  systemData?: Record<string, string>;
  properties: Record<string, unknown>;
}

export function clusterView(c: ClusterRecord): ClusterView {
  const view: ClusterView = {
    id: c.id,
    name: c.name,
    type: CLUSTER_FULL_TYPE,
    location: c.spec.location,
    tags: c.spec.tags ?? {},
    etag: c.etag,
    properties: {
      ...c.spec.properties,
      provisioningState: c.provisioningState,
      ...c.status,
    },
  };
  if (c.systemData) view.systemData = c.systemData as Record<string, string>;
  return view;
}

export interface OperationView {
  id: string;
  name: string;
  status: string;
  startTime: string;
  endTime?: string;
  percentComplete: number;
  error?: { code: string; message: string; target?: string };
  properties: { kind: string; step?: string; resourceId: string };
}

/** Path of an operation's status document (the Azure-AsyncOperation URL without host and query). */
export function operationStatusPath(op: Pick<OperationRecord, 'subscriptionId' | 'location' | 'operationId'>): string {
  return `/subscriptions/${op.subscriptionId}/providers/HCS.Consul/locations/${op.location}/operationStatuses/${op.operationId}`;
}

/** Path of an operation's result (the Location URL without host and query). */
export function operationResultPath(op: Pick<OperationRecord, 'subscriptionId' | 'location' | 'operationId'>): string {
  return `/subscriptions/${op.subscriptionId}/providers/HCS.Consul/locations/${op.location}/operationResults/${op.operationId}`;
}

export function operationView(op: OperationRecord, resourceId: string): OperationView {
  const view: OperationView = {
    id: operationStatusPath(op),
    name: op.operationId,
    status: op.status,
    startTime: op.startedAt,
    percentComplete: op.percentComplete,
    properties: { kind: op.kind, resourceId, ...(op.step ? { step: op.step } : {}) },
  };
  if (op.endedAt) view.endTime = op.endedAt;
  if (op.error) view.error = op.error;
  return view;
}
