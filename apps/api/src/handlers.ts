// All RPC handlers in one object, built once from the API's dependencies (the composition root
// of the API's logic; the transports only translate). The object is checked against the
// generated service descriptors (contract.ts ApiHandlers): an RPC without a handler does not compile.
import type { SqlDatabase } from '../../../store/database.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import type { OperationStarter } from '../../../lib/operation-starter.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import type { ApiHandlers } from './contract.js';
import { actionHandlers } from './service/actions.js';
import { auditLogHandlers } from './service/audit-logs.js';
import { clusterHandlers } from './service/clusters.js';
import { federationHandlers } from './service/federation.js';
import { notificationHandlers } from './service/notifications.js';
import { operationResultHandlers } from './service/operation-result.js';
import { operationHandlers } from './service/operations.js';
import { peeringHandlers } from './service/peering.js';
import type { ServiceLimits } from './service/quotas.js';
import { snapshotActionHandlers } from './service/snapshot-actions.js';

export interface HandlerDeps {
  db: SqlDatabase;
  starter: OperationStarter;
  /** The process's start relay, nudged after each operation commits (lib/operation-relay.ts). */
  relay?: { nudge(): void };
  catalogue: CatalogueEntry[];
  allowedLocations?: string[];
  /** Opens the documents the worker sealed for customers (client configuration, root tokens). */
  sealer: SecretBox;
  /** Quotas and the federation token lifetime (service/quotas.ts DEFAULT_LIMITS). */
  limits: ServiceLimits;
}

export function createHandlers(deps: HandlerDeps) {
  const clusters = clusterHandlers(deps);
  const actions = actionHandlers({ ...deps, startAction: clusters.startAction });
  const operations = operationHandlers(deps);
  const peering = peeringHandlers({ ...deps, startAction: clusters.startAction });
  return {
    ...clusters,
    ...actions,
    ...snapshotActionHandlers({
      startAction: clusters.startAction,
      getSnapshot: (req, ctx) => actions.getSnapshot(req, ctx),
      manualSnapshotsPerCluster: deps.limits.manualSnapshotsPerCluster,
    }),
    ...federationHandlers({
      ...deps,
      federationTokenTtlSeconds: deps.limits.federationTokenTtlSeconds,
    }),
    ...operations,
    generatePeeringToken: (req, ctx) => peering.generatePeeringToken(req, ctx),
    establishPeering: (req, ctx) => peering.establishPeering(req, ctx),
    ...operationResultHandlers({
      db: deps.db,
      getOperationRecord: (req, ctx) => operations.getOperationRecord(req, ctx),
      snapshotResult: (op) => actions.snapshotResult(op),
      rootTokenResult: (op, ctx) => actions.rootTokenResult(op, ctx),
      peeringTokenResult: (op, ctx) => peering.peeringTokenResult(op, ctx),
    }),
    ...notificationHandlers({ db: deps.db, clusters }),
    ...auditLogHandlers({ db: deps.db }),
  } satisfies ApiHandlers;
}

export type Handlers = ReturnType<typeof createHandlers>;
