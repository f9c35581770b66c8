// The snapshot activities' pure rules: which snapshots retention removes, which restores are
// refused for their Consul version, the schedule's name and interval. The activities themselves
// run end to end in test/lifecycle/snapshots.test.ts.
import { describe, expect, it } from 'vitest';
import type { SnapshotRecord } from '../store/snapshots.js';
import { restoreRefusal, snapshotIntervalSeconds, snapshotScheduleId, snapshotsToRemove } from './snapshots.js';

let n = 0;
const NOW = new Date(Date.UTC(2026, 0, 1, 1));
function snap(kind: SnapshotRecord['kind'], state: SnapshotRecord['state'], minute: number): SnapshotRecord {
  return {
    snapshotId: `${kind[0]}${state[0]}-${minute}-${n++}`,
    resourceKey: '/subscriptions/x/resourcegroups/rg/providers/hcs.consul/clusters/c',
    name: 'n',
    kind,
    state,
    sizeBytes: null,
    consulVersion: '1.22.7',
    requestedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(),
    finishedAt: null,
    restoredAt: null,
  };
}

describe('snapshotsToRemove', () => {
  it('keeps the newest COMPLETED automatic snapshots, removes older ones oldest first, never manual ones', () => {
    const a1 = snap('AUTOMATIC', 'COMPLETED', 1);
    const a2 = snap('AUTOMATIC', 'COMPLETED', 2);
    const m3 = snap('MANUAL', 'COMPLETED', 3);
    const a4 = snap('AUTOMATIC', 'COMPLETED', 4);
    const a5 = snap('AUTOMATIC', 'COMPLETED', 5);
    expect(snapshotsToRemove([a5, m3, a1, a4, a2], 2, NOW)).toEqual([a1.snapshotId, a2.snapshotId]);
    expect(snapshotsToRemove([a5, m3, a1, a4, a2], 8, NOW)).toEqual([]);
  });

  it('removes failed automatic snapshots, leaves failed manual and pending ones alone', () => {
    const failedAuto = snap('AUTOMATIC', 'FAILED', 1);
    const failedManual = snap('MANUAL', 'FAILED', 2);
    const pending = snap('AUTOMATIC', 'PENDING', 3);
    const done = snap('AUTOMATIC', 'COMPLETED', 4);
    expect(snapshotsToRemove([failedAuto, failedManual, pending, done], 1, NOW)).toEqual([failedAuto.snapshotId]);
    // A pending snapshot does not count against retention (it may still fail).
    expect(snapshotsToRemove([pending, done, snap('AUTOMATIC', 'COMPLETED', 0)], 1, NOW)).toHaveLength(1);
  });

  it('removes UPGRADE snapshots 7 days after they were taken, whatever the retention count, and never counts them', () => {
    const upgrade = snap('UPGRADE', 'COMPLETED', 10);
    const auto = snap('AUTOMATIC', 'COMPLETED', 11);
    const sevenDaysLater = new Date(Date.parse(upgrade.requestedAt) + 7 * 86_400_000);
    expect(snapshotsToRemove([auto, upgrade], 1, new Date(sevenDaysLater.getTime() - 1))).toEqual([]);
    expect(snapshotsToRemove([auto, upgrade], 1, sevenDaysLater)).toEqual([upgrade.snapshotId]);
    // A young upgrade snapshot does not push an automatic one out of the retention count.
    expect(snapshotsToRemove([auto, upgrade], 1, new Date(Date.parse(upgrade.requestedAt)))).toEqual([]);
  });
});

describe('restoreRefusal', () => {
  it('allows the same or an older Consul version and refuses a newer one, naming both', () => {
    expect(restoreRefusal('1.22.7', '1.22.7')).toBeUndefined();
    expect(restoreRefusal('1.21.3', '1.22.7')).toBeUndefined();
    expect(restoreRefusal('1.22.6', '1.22.7')).toBeUndefined();
    expect(restoreRefusal('1.22.8', '1.22.7')).toMatch(/taken on Consul 1\.22\.8, newer than the cluster's 1\.22\.7/);
    expect(restoreRefusal('2.0.0', '1.22.7')).toBeDefined();
  });

  it('says when versions cannot be compared; a snapshot without a version is not refused for it', () => {
    expect(restoreRefusal('garbage', '1.22.7')).toMatch(/cannot compare Consul versions/);
    expect(restoreRefusal(null, '1.22.7')).toBeUndefined();
  });
});

it('names the schedule after the cluster like its workflows, and takes the interval from the policy unless overridden', () => {
  expect(snapshotScheduleId('/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/c')).toBe(
    'snapshots/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/c',
  );
  expect(snapshotIntervalSeconds({ intervalHours: 6, retentionCount: 8 })).toBe(21_600);
  expect(snapshotIntervalSeconds({ intervalHours: 6, retentionCount: 8 }, 5)).toBe(5);
});
