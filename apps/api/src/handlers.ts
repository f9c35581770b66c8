// All RPC handlers in one object, built once from the API's dependencies (the composition root
// of the API's logic; the transports only translate).
import { getCluster } from '../../../store/clusters.js';
import type { SqlDatabase } from '../../../store/database.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import type { OperationStarter } from '../../../lib/operation-starter.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import { actionHandlers } from './service/actions.js';
import { clusterHandlers } from './service/clusters.js';
import { federationHandlers } from './service/federation.js';
import { notificationHandlers } from './service/notifications.js';
import { operationHandlers } from './service/operations.js';
import type { ServiceLimits } from './service/quotas.js';
import { snapshotActionHandlers } from './service/snapshot-actions.js';

export interface HandlerDeps {
  db: SqlDatabase;
  starter: OperationStarter;
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
    ...operationHandlers(deps),
    ...notificationHandlers({ db: deps.db, clusters }),
    findCluster: (resourceKey: string) => getCluster(deps.db, resourceKey),
  };
}

export type Handlers = ReturnType<typeof createHandlers>;
