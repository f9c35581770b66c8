import { describe, expect, it } from 'vitest';
import { restoreRefusal, restoreStateRefusal } from './restore-rules.js';

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

describe('restoreStateRefusal', () => {
  it('allows only a COMPLETED snapshot with stored data, naming the state otherwise', () => {
    expect(restoreStateRefusal({ snapshotId: 's1', state: 'COMPLETED' }, true)).toBeUndefined();
    expect(restoreStateRefusal({ snapshotId: 's1', state: 'COMPLETED' }, false)).toBe(
      'snapshot s1 is COMPLETED and holds no data to restore; only COMPLETED snapshots can be restored',
    );
    expect(restoreStateRefusal({ snapshotId: 's2', state: 'PENDING' }, false)).toMatch(/^snapshot s2 is PENDING and holds no data/);
    expect(restoreStateRefusal({ snapshotId: 's3', state: 'FAILED' }, true)).toMatch(/^snapshot s3 is FAILED/);
  });
});
