// OperationService.GetOperationResult: what an operation produced, for both transports. REST
// serves it as ARM's Location URL (rest/arm-responses.ts turns it into 202, 200, 204 or the
// operation's error); gRPC callers get the same answer as a message.
import { getCluster } from '../../../../store/clusters.js';
import type { SqlDatabase } from '../../../../store/database.js';
import type { OperationRecord } from '../../../../store/operations.js';
import type { RequestContext } from '../context.js';
import { clusterView, operationView, type ClusterView, type OperationView } from './views.js';

interface OperationPath {
  subscriptionId: string;
  location: string;
  operationId: string;
}

/** The operation and, once it succeeded, at most one of what it produced (the proto's oneof). */
export interface OperationResult {
  operation: OperationView;
  cluster?: ClusterView;
  snapshot?: object;
  rootToken?: { accessorId: string; secretId: string };
  peeringToken?: { peerName: string; peeringToken: string };
}

export function operationResultHandlers(deps: {
  db: SqlDatabase;
  /** Finds the operation with the caller's role (reader) and subscription scope checked. */
  getOperationRecord(req: OperationPath, ctx: RequestContext): Promise<OperationRecord>;
  /** The snapshot a snapshot operation took. */
  snapshotResult(op: OperationRecord): Promise<{ snapshot: object }>;
  /** The new root token, once, for operators (service/actions.ts). */
  rootTokenResult(op: OperationRecord, ctx: RequestContext): Promise<{ accessorId: string; secretId: string }>;
  /** The peering token, once, for operators (service/peering.ts). */
  peeringTokenResult(op: OperationRecord, ctx: RequestContext): Promise<{ peerName: string; peeringToken: string }>;
}) {
  return {
    async getOperationResult(req: OperationPath, ctx: RequestContext): Promise<OperationResult> {
      const op = await deps.getOperationRecord(req, ctx);
      const cluster = await getCluster(deps.db, op.resourceKey);
      const operation = operationView(op, cluster?.id ?? op.resourceKey);
      if (op.status !== 'Succeeded' || op.kind === 'delete') return { operation };
      if (op.kind === 'snapshot') return { operation, snapshot: (await deps.snapshotResult(op)).snapshot };
      if (op.kind === 'token') return { operation, rootToken: await deps.rootTokenResult(op, ctx) };
      if (op.kind === 'peeringtoken') return { operation, peeringToken: await deps.peeringTokenResult(op, ctx) };
      return cluster ? { operation, cluster: clusterView(cluster) } : { operation };
    },
  };
}
