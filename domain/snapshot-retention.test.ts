import { describe, expect, it } from 'vitest';
import {
  expiredUpgradeSnapshots,
  pickSnapshotsToDelete,
  snapshotsToRemove,
  UPGRADE_SNAPSHOT_TTL_DAYS,
  type AgedSnapshot,
} from './snapshot-retention.js';

const NOW = new Date('2026-11-20T12:00:00Z');
const daysAgo = (d: number) => new Date(NOW.getTime() - d * 86_400_000).toISOString();

function snap(id: string, kind: AgedSnapshot['kind'], state: AgedSnapshot['state'], takenDaysAgo: number): AgedSnapshot {
  return {
    snapshotId: id,
    kind,
    state,
    requestedAt: daysAgo(takenDaysAgo + 0.001),
    finishedAt: state === 'PENDING' ? null : daysAgo(takenDaysAgo),
  };
}

describe('expiredUpgradeSnapshots', () => {
  it('picks UPGRADE snapshots taken 7 days ago or earlier, oldest first, and nothing younger', () => {
    expect(UPGRADE_SNAPSHOT_TTL_DAYS).toBe(7);
    const list = [
      snap('u-6.9', 'UPGRADE', 'COMPLETED', 6.9),
      snap('u-7', 'UPGRADE', 'COMPLETED', 7),
      snap('u-30', 'UPGRADE', 'COMPLETED', 30),
      snap('u-8-failed', 'UPGRADE', 'FAILED', 8),
    ];
    expect(expiredUpgradeSnapshots(list, NOW)).toEqual(['u-30', 'u-8-failed', 'u-7']);
    // The same snapshots a day earlier: only those older than 8 days then.
    expect(expiredUpgradeSnapshots(list, new Date(NOW.getTime() - 86_400_000))).toEqual(['u-30', 'u-8-failed']);
  });

  it('never picks MANUAL or AUTOMATIC snapshots, nor a PENDING upgrade snapshot, however old', () => {
    const list = [snap('m', 'MANUAL', 'COMPLETED', 400), snap('a', 'AUTOMATIC', 'COMPLETED', 400), snap('p', 'UPGRADE', 'PENDING', 400)];
    expect(expiredUpgradeSnapshots(list, NOW)).toEqual([]);
  });

  it('uses the request time when there is no finish time, and refuses an unreadable time', () => {
    expect(
      expiredUpgradeSnapshots([{ snapshotId: 'f', kind: 'UPGRADE', state: 'FAILED', requestedAt: daysAgo(9), finishedAt: null }], NOW),
    ).toEqual(['f']);
    expect(() =>
      expiredUpgradeSnapshots([{ snapshotId: 'x', kind: 'UPGRADE', state: 'COMPLETED', requestedAt: 'soon', finishedAt: null }], NOW),
    ).toThrow(/snapshot x has no valid time/);
  });
});

describe('pickSnapshotsToDelete', () => {
  const snap = (id: string, kind: 'MANUAL' | 'AUTOMATIC', day: number) => ({
    id,
    kind,
    requestedAt: new Date(Date.UTC(2026, 0, day)).toISOString(),
  });

  it('picks the oldest automatic snapshots beyond the count, oldest first, and never a manual one', () => {
    const snapshots = [
      snap('a5', 'AUTOMATIC', 5),
      snap('m1', 'MANUAL', 1),
      snap('a1', 'AUTOMATIC', 1),
      snap('a3', 'AUTOMATIC', 3),
      snap('a4', 'AUTOMATIC', 4),
    ];
    expect(pickSnapshotsToDelete(snapshots, 2)).toEqual(['a1', 'a3']);
    expect(pickSnapshotsToDelete(snapshots, 4)).toEqual([]);
    expect(pickSnapshotsToDelete(snapshots, 10)).toEqual([]);
    expect(pickSnapshotsToDelete(snapshots, 0)).toEqual(['a1', 'a3', 'a4', 'a5']);
    expect(pickSnapshotsToDelete([snap('m1', 'MANUAL', 1), snap('m2', 'MANUAL', 2)], 0)).toEqual([]);
    expect(pickSnapshotsToDelete([], 3)).toEqual([]);
  });

  it('compares times, not strings, and breaks ties by id whatever the input order', () => {
    const offsets = [
      { id: 'x', kind: 'AUTOMATIC' as const, requestedAt: '2026-01-02T01:00:00+02:00' }, // 2026-01-01T23:00Z
      { id: 'y', kind: 'AUTOMATIC' as const, requestedAt: '2026-01-01T23:30:00Z' },
    ];
    expect(pickSnapshotsToDelete(offsets, 1)).toEqual(['x']);
    const tied = [snap('b', 'AUTOMATIC', 1), snap('a', 'AUTOMATIC', 1), snap('c', 'AUTOMATIC', 1)];
    expect(pickSnapshotsToDelete(tied, 1)).toEqual(pickSnapshotsToDelete([...tied].reverse(), 1));
  });

  it('refuses a bad count or time', () => {
    expect(() => pickSnapshotsToDelete([], -1)).toThrow(/retention count must be a whole number/);
    expect(() => pickSnapshotsToDelete([], 1.5)).toThrow(/retention count/);
    expect(() => pickSnapshotsToDelete([{ id: 's1', kind: 'AUTOMATIC', requestedAt: 'yesterday' }], 1)).toThrow(
      'snapshot s1 has an invalid requestedAt: "yesterday"',
    );
  });
});

describe('snapshotsToRemove', () => {
  let n = 0;
  const AT = new Date(Date.UTC(2026, 0, 1, 1));
  function at(kind: AgedSnapshot['kind'], state: AgedSnapshot['state'], minute: number): AgedSnapshot {
    return {
      snapshotId: `${kind[0]}${state[0]}-${minute}-${n++}`,
      kind,
      state,
      requestedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
      finishedAt: null,
    };
  }

  it('keeps the newest COMPLETED automatic snapshots, removes older ones oldest first, never manual ones', () => {
    const a1 = at('AUTOMATIC', 'COMPLETED', 1);
    const a2 = at('AUTOMATIC', 'COMPLETED', 2);
    const m3 = at('MANUAL', 'COMPLETED', 3);
    const a4 = at('AUTOMATIC', 'COMPLETED', 4);
    const a5 = at('AUTOMATIC', 'COMPLETED', 5);
    expect(snapshotsToRemove([a5, m3, a1, a4, a2], 2, AT)).toEqual([a1.snapshotId, a2.snapshotId]);
    expect(snapshotsToRemove([a5, m3, a1, a4, a2], 8, AT)).toEqual([]);
  });

  it('removes failed automatic snapshots, leaves failed manual and pending ones alone', () => {
    const failedAuto = at('AUTOMATIC', 'FAILED', 1);
    const failedManual = at('MANUAL', 'FAILED', 2);
    const pending = at('AUTOMATIC', 'PENDING', 3);
    const done = at('AUTOMATIC', 'COMPLETED', 4);
    expect(snapshotsToRemove([failedAuto, failedManual, pending, done], 1, AT)).toEqual([failedAuto.snapshotId]);
    // A pending snapshot does not count against retention (it may still fail).
    expect(snapshotsToRemove([pending, done, at('AUTOMATIC', 'COMPLETED', 0)], 1, AT)).toHaveLength(1);
  });

  it('removes UPGRADE snapshots 7 days after they were taken, whatever the retention count, and never counts them', () => {
    const upgrade = at('UPGRADE', 'COMPLETED', 10);
    const auto = at('AUTOMATIC', 'COMPLETED', 11);
    const sevenDaysLater = new Date(Date.parse(upgrade.requestedAt) + 7 * 86_400_000);
    expect(snapshotsToRemove([auto, upgrade], 1, new Date(sevenDaysLater.getTime() - 1))).toEqual([]);
    expect(snapshotsToRemove([auto, upgrade], 1, sevenDaysLater)).toEqual([upgrade.snapshotId]);
    // A young upgrade snapshot does not push an automatic one out of the retention count.
    expect(snapshotsToRemove([auto, upgrade], 1, new Date(Date.parse(upgrade.requestedAt)))).toEqual([]);
  });
});
