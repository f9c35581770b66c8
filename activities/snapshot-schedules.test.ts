import { expect, it } from 'vitest';
import { snapshotIntervalSeconds, snapshotScheduleId } from './snapshot-schedules.js';

it('names the schedule after the cluster like its workflows, and takes the interval from the policy unless overridden', () => {
  expect(snapshotScheduleId('/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/c')).toBe(
    'snapshots/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/c',
  );
  expect(snapshotIntervalSeconds({ intervalHours: 6, retentionCount: 8 })).toBe(21_600);
  expect(snapshotIntervalSeconds({ intervalHours: 6, retentionCount: 8 }, 5)).toBe(5);
});
