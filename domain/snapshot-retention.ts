// Which snapshots retention removes: by count (automatic ones) and by age (upgrade ones). Pure:
// "now" is always a parameter.
//
// A snapshot's kind says why it exists: MANUAL (an operator asked; kept until deleted, capped
// per cluster), AUTOMATIC (the schedule; the newest retentionCount are kept) and UPGRADE (taken
// by an upgrade right before its first change; kept UPGRADE_SNAPSHOT_TTL_DAYS, then removed).
// Upgrades are customer-triggered, so their snapshots must not pile up for ever.

export type SnapshotKind = 'MANUAL' | 'AUTOMATIC' | 'UPGRADE';
export type SnapshotState = 'PENDING' | 'COMPLETED' | 'FAILED';

/** How long the snapshot an upgrade takes is kept. */
export const UPGRADE_SNAPSHOT_TTL_DAYS = 7;
const DAY_MS = 86_400_000;

export interface AgedSnapshot {
  snapshotId: string;
  kind: SnapshotKind;
  state: SnapshotState;
  /** ISO 8601 times. */
  requestedAt: string;
  finishedAt: string | null;
}

/**
 * Ids of the UPGRADE snapshots taken (finished, or requested when there is no finish time) more
 * than UPGRADE_SNAPSHOT_TTL_DAYS before `now`, oldest first; COMPLETED and FAILED ones alike. A
 * PENDING one is never picked (it may still be being written).
 */
export function expiredUpgradeSnapshots(snapshots: AgedSnapshot[], now: Date): string[] {
  const cutoff = now.getTime() - UPGRADE_SNAPSHOT_TTL_DAYS * DAY_MS;
  return snapshots
    .filter((s) => s.kind === 'UPGRADE' && s.state !== 'PENDING')
    .map((s) => {
      const at = Date.parse(s.finishedAt ?? s.requestedAt);
      if (Number.isNaN(at))
        throw new RangeError(`snapshot ${s.snapshotId} has no valid time: ${JSON.stringify(s.finishedAt ?? s.requestedAt)}`);
      return { id: s.snapshotId, at };
    })
    .filter((s) => s.at <= cutoff)
    .sort((x, y) => x.at - y.at || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    .map((s) => s.id);
}

/** What the count rule needs of a snapshot. */
export interface CountedSnapshot {
  id: string;
  kind: SnapshotKind;
  /** ISO 8601 time the snapshot was requested. */
  requestedAt: string;
}

/**
 * Ids of the automatic snapshots beyond the newest `retentionCount` ones, oldest first. Manual
 * snapshots are never picked (they go only when an operator deletes them), nor upgrade ones
 * (they go by age: expiredUpgradeSnapshots).
 */
export function pickSnapshotsToDelete(snapshots: CountedSnapshot[], retentionCount: number): string[] {
  if (!Number.isInteger(retentionCount) || retentionCount < 0) {
    throw new RangeError(`retention count must be a whole number of snapshots, 0 or more (got ${retentionCount})`);
  }
  const automatic = snapshots
    .filter((s) => s.kind === 'AUTOMATIC')
    .map((s) => {
      const at = Date.parse(s.requestedAt);
      if (Number.isNaN(at)) throw new RangeError(`snapshot ${s.id} has an invalid requestedAt: ${JSON.stringify(s.requestedAt)}`);
      return { id: s.id, at };
    })
    // Newest first; the id breaks ties so the choice never depends on input order.
    .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0));
  return automatic
    .slice(retentionCount)
    .reverse()
    .map((s) => s.id);
}

/**
 * Snapshots to remove after a snapshot: the COMPLETED automatic ones beyond the newest
 * `retentionCount`, FAILED automatic ones (they hold no data; the failure stays on their
 * operation), and UPGRADE ones taken 7 days or more before `now`. Manual snapshots and anything
 * PENDING are never picked.
 */
export function snapshotsToRemove(snapshots: AgedSnapshot[], retentionCount: number, now: Date): string[] {
  const completed = snapshots
    .filter((s) => s.state === 'COMPLETED')
    .map((s) => ({ id: s.snapshotId, kind: s.kind, requestedAt: s.requestedAt }));
  const failed = snapshots.filter((s) => s.kind === 'AUTOMATIC' && s.state === 'FAILED').map((s) => s.snapshotId);
  return [...pickSnapshotsToDelete(completed, retentionCount), ...failed, ...expiredUpgradeSnapshots(snapshots, now)];
}
