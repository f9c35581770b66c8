// A secondary's primary, as its federation steps need it: the primary's record and servers from
// the store, and where the secondary's servers join the primary's WAN pool.
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, FederationJoin, ServerInfo } from '../domain/cluster-plan.js';
import { getCluster, getClusterServers } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';

export interface PrimaryCluster {
  resourceKey: string;
  servers: ServerInfo[];
}

export interface FederationPrimaries {
  /** The primary's record and servers, for a secondary's federation steps (undefined when gone or not a secondary). */
  primaryOf(plan: ClusterPlan): Promise<(PrimaryCluster & { deleting: boolean }) | undefined>;
  /** The primary a secondary joins, with its servers; a primary gone, going or not built yet is an error. */
  joinablePrimary(plan: ClusterPlan): Promise<PrimaryCluster>;
}

export function federationPrimaries(db: SqlExecutor): FederationPrimaries {
  async function primaryOf(plan: ClusterPlan) {
    if (!plan.federation) return undefined;
    const resourceKey = plan.federation.primaryResourceKey;
    const record = await getCluster(db, resourceKey);
    if (!record) return undefined;
    return { resourceKey, servers: await getClusterServers(db, resourceKey), deleting: record.provisioningState === 'Deleting' };
  }
  return {
    primaryOf,
    async joinablePrimary(plan) {
      const primary = await primaryOf(plan);
      if (!primary || primary.deleting)
        throw workerFailure('PrimaryClusterNotFound', `the primary of ${plan.name} is ${primary ? 'being deleted' : 'not in the store'}`);
      if (primary.servers.length === 0) throw workerFailure('PrimaryServersPending', 'the primary has no servers recorded yet');
      return primary;
    },
  };
}

/** Where a secondary's servers join the primary's WAN pool. */
export function federationJoin(plan: ClusterPlan, primary: { servers: ServerInfo[] }): FederationJoin {
  return {
    primaryDatacenter: plan.federation!.primaryDatacenter,
    wanJoin: primary.servers.map((s) => s.address),
  };
}
