// Per-tenant limits of the service: clusters per subscription, MANUAL snapshots per cluster and
// the lifetime of federation tokens. The quota checks run inside the transaction that would
// exceed them (under a lock or the cluster's one-operation rule), so a burst of concurrent
// requests cannot overshoot; a refusal is 409 QuotaExceeded naming the limit and writes nothing.
import { countClusters, countSnapshots, lockSubscriptionQuota } from '../../../../store/quotas.js';
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

/** In a create transaction: refuses the subscription's (limit+1)th cluster. */
export async function requireClusterQuota(tx: SqlExecutor, subscriptionId: string, limit: number): Promise<void> {
  await lockSubscriptionQuota(tx, subscriptionId);
  const used = await countClusters(tx, subscriptionId);
  if (used >= limit)
    throw conflict(
      'QuotaExceeded',
      `Subscription ${subscriptionId} has ${used} clusters; the limit is ${limit} clusters per subscription. Delete a cluster or ask for a higher limit; nothing was created.`,
    );
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
