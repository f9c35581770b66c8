// The cluster a request names in its path: checked, scoped to the caller, loaded from the store.
import { throwIfAny } from '../../../../domain/errors.js';
import {
  checkClusterName,
  checkResourceGroupName,
  checkSubscriptionId,
  formatClusterResourceId,
  resourceKey,
} from '../../../../domain/resource-id.js';
import { getCluster, type ClusterRecord } from '../../../../store/clusters.js';
import type { SqlExecutor } from '../../../../store/database.js';
import type { RequestContext } from '../context.js';
import { notFound } from '../errors.js';
import { requireSubscription } from './authorize.js';

export interface ClusterPath {
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
}

/** The existing cluster at `p` (404 when missing or outside the caller's subscriptions). */
export async function loadCluster(db: SqlExecutor, ctx: RequestContext, p: ClusterPath): Promise<ClusterRecord> {
  const what = `The cluster '${p.clusterName}' in resource group '${p.resourceGroup}'`;
  requireSubscription(ctx, p.subscriptionId, what);
  throwIfAny([
    ...checkSubscriptionId(p.subscriptionId),
    ...checkResourceGroupName(p.resourceGroup),
    ...checkClusterName(p.clusterName.toLowerCase()),
  ]);
  const found = await getCluster(db, resourceKey(formatClusterResourceId(p)));
  if (!found) throw notFound(what);
  return found;
}
