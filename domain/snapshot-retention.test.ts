import { describe, expect, it } from 'vitest';
import { expiredUpgradeSnapshots, UPGRADE_SNAPSHOT_TTL_DAYS, type AgedSnapshot } from './snapshot-retention.js';

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
