import { describe, expect, it } from 'vitest';
import { movesProvisioningState, safetyWorkSkipReason } from './provisioning.js';
import { OPERATION_KINDS } from './resource-id.js';

describe('provisioning rules', () => {
  it('only create, update, scale and delete move provisioningState; every day-2 kind leaves it', () => {
    expect(OPERATION_KINDS.filter(movesProvisioningState)).toEqual(['create', 'update', 'delete', 'scale']);
    for (const kind of ['token', 'upgrade', 'snapshot', 'snapshotdelete', 'restore', 'rotate', 'maintenance'])
      expect(movesProvisioningState(kind)).toBe(false);
  });

  it('safety work runs on a cluster with servers whatever its state, and skips one without servers or being deleted', () => {
    for (const state of ['Succeeded', 'Failed', 'Canceled', 'Updating', 'Accepted'])
      expect(safetyWorkSkipReason({ provisioningState: state, serverCount: 3 })).toBeUndefined();
    expect(safetyWorkSkipReason({ provisioningState: 'Succeeded', serverCount: 0 })).toBe('the cluster has no servers yet');
    expect(safetyWorkSkipReason({ provisioningState: 'Failed', serverCount: 0 })).toBe('the cluster has no servers yet');
    expect(safetyWorkSkipReason({ provisioningState: 'Deleting', serverCount: 3 })).toBe('the cluster is being deleted');
  });
});
