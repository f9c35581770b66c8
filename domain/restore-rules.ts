// Which restores are refused before anything is touched: only a COMPLETED snapshot with stored
// data can be restored, and only onto a cluster running its Consul version or a newer one.
// Pure; used by the API (409 before an operation starts) and by the restore workflow's check.
import type { SnapshotState } from './snapshot-retention.js';
import { compareVersions, parseVersion } from './versions.js';

/**
 * Why a snapshot taken on `snapshotVersion` cannot be restored onto a cluster running
 * `clusterVersion`, or undefined when it can (same or older snapshot version). Consul reads
 * older snapshots; a newer one may hold state the older servers do not understand.
 */
export function restoreRefusal(snapshotVersion: string | null, clusterVersion: string): string | undefined {
  if (snapshotVersion === null) return undefined;
  const snap = parseVersion(snapshotVersion);
  const current = parseVersion(clusterVersion);
  if (!snap || !current) return `cannot compare Consul versions ${JSON.stringify(snapshotVersion)} and ${JSON.stringify(clusterVersion)}`;
  if (compareVersions(snap, current) <= 0) return undefined;
  return `the snapshot was taken on Consul ${snapshotVersion}, newer than the cluster's ${clusterVersion}; restore it onto ${snapshotVersion} or later`;
}

/**
 * Why the snapshot cannot be restored for its state, or undefined when it holds data to restore
 * (COMPLETED, with its stored data recorded).
 */
export function restoreStateRefusal(s: { snapshotId: string; state: SnapshotState }, hasStoredData: boolean): string | undefined {
  if (s.state === 'COMPLETED' && hasStoredData) return undefined;
  return `snapshot ${s.snapshotId} is ${s.state} and holds no data to restore; only COMPLETED snapshots can be restored`;
}
