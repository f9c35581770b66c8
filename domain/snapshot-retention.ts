// Which snapshots expire by age. Pure: "now" is always a parameter.
//
// A snapshot's kind says why it exists: MANUAL (an operator asked; kept until deleted, capped
// per cluster), AUTOMATIC (the schedule; the newest retentionCount are kept) and UPGRADE (taken
// by an upgrade right before its first change; kept UPGRADE_SNAPSHOT_TTL_DAYS, then removed).
// Upgrades are customer-triggered, so their snapshots must not pile up for ever.

export type SnapshotKind = 'MANUAL' | 'AUTOMATIC' | 'UPGRADE';

/** How long the snapshot an upgrade takes is kept. */
export const UPGRADE_SNAPSHOT_TTL_DAYS = 7;
const DAY_MS = 86_400_000;

export interface AgedSnapshot {
  snapshotId: string;
  kind: SnapshotKind;
  state: 'PENDING' | 'COMPLETED' | 'FAILED';
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
