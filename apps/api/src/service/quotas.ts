// Per-tenant limits of the service: clusters per subscription, MANUAL snapshots per cluster and
// the lifetime of federation tokens. The quota checks run inside the transaction that would
// exceed them (under a lock or the cluster's one-operation rule), so a burst of concurrent
// requests cannot overshoot; a refusal is 409 QuotaExceeded naming the limit and writes nothing.
import { cidrOverlapProblems } from '../../../../domain/cluster-spec.js';
import { throwIfAny } from '../../../../domain/errors.js';
import { countSnapshots, lockSubscriptionQuota, subscriptionRoom } from '../../../../store/quotas.js';
import type { SqlExecutor } from '../../../../store/database.js';
import { conflict } from '../errors.js';

export interface ServiceLimits {
  /** Cluster records per subscription (any state). */
  clustersPerSubscription: number;
  /** MANUAL snapshot records per cluster (AUTOMATIC ones are pruned by their schedule's retention). */
  manualSnapshotsPerCluster: number;
  /** How long a federation token is accepted. */
  federationTokenTtlSeconds: number;
}

export const DEFAULT_LIMITS: ServiceLimits = {
  clustersPerSubscription: 10,
  manualSnapshotsPerCluster: 50,
  federationTokenTtlSeconds: 3600,
};

/**
 * In a create transaction, under the subscription's lock, once the new cluster's row is written:
 * refuses the subscription's (limit+1)th cluster (409), and a range that overlaps another cluster's (400, as the request's validation
 * would have: this is the check two concurrent creates cannot both pass).
 */
export async function requireClusterRoom(
  tx: SqlExecutor,
  cluster: { subscriptionId: string; id: string; resourceKey: string; cidr: string },
  limit: number,
): Promise<void> {
  const { subscriptionId } = cluster;
  await lockSubscriptionQuota(tx, subscriptionId);
  const { clusters: used, overlapping } = await subscriptionRoom(tx, subscriptionId, cluster.cidr, cluster.resourceKey);
  if (used >= limit)
    throw conflict(
      'QuotaExceeded',
      `Subscription ${subscriptionId} has ${used} clusters; the limit is ${limit} clusters per subscription. Delete a cluster or ask for a higher limit; nothing was created.`,
    );
  throwIfAny(cidrOverlapProblems(cluster.cidr, overlapping, cluster.id));
}

/**
 * In a createSnapshot transaction: refuses the cluster's (limit+1)th MANUAL snapshot. The
 * cluster's one-operation rule (a unique index) already keeps two createSnapshot calls from
 * committing together.
 */
export async function requireSnapshotQuota(tx: SqlExecutor, cluster: { resourceKey: string; name: string }, limit: number): Promise<void> {
  const used = await countSnapshots(tx, cluster.resourceKey, 'MANUAL');
  if (used >= limit)
    throw conflict(
      'QuotaExceeded',
      `The cluster '${cluster.name}' has ${used} MANUAL snapshots; the limit is ${limit} MANUAL snapshots per cluster. Delete one (deleteSnapshot) before taking another; nothing was started.`,
    );
}
