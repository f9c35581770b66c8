import { describe, expect, it } from 'vitest';
import { isServerCount, placeServers, planScale, serverName, zoneForServer } from './placement.js';

describe('placement', () => {
  it('puts servers round-robin over zones 1, 2, 3', () => {
    expect(placeServers('prod', 5).map((s) => s.zone)).toEqual([1, 2, 3, 1, 2]);
    expect(placeServers('prod', 3).map((s) => s.zone)).toEqual([1, 2, 3]);
    expect(placeServers('prod', 1)).toEqual([{ index: 0, name: 'prod-server-0', zone: 1 }]);
  });

  it('names servers <cluster>-server-<i>', () => {
    expect(placeServers('prod', 3).map((s) => s.name)).toEqual(['prod-server-0', 'prod-server-1', 'prod-server-2']);
    expect(serverName('east-1', 4)).toBe('east-1-server-4');
  });

  it('scaling 3 -> 5 adds servers 3 and 4 in zones 1 and 2', () => {
    expect(planScale('prod', 3, 5)).toEqual({
      add: [
        { index: 3, name: 'prod-server-3', zone: 1 },
        { index: 4, name: 'prod-server-4', zone: 2 },
      ],
      remove: [],
    });
  });

  it('scaling down removes the highest indexes first', () => {
    expect(planScale('prod', 5, 1).remove.map((s) => s.name)).toEqual(['prod-server-4', 'prod-server-3', 'prod-server-2', 'prod-server-1']);
    expect(planScale('prod', 5, 1).add).toEqual([]);
  });

  it('same count is a no-op', () => {
    expect(planScale('prod', 3, 3)).toEqual({ add: [], remove: [] });
  });

  it('refuses impossible counts and indexes', () => {
    expect(() => placeServers('prod', 4)).toThrow('serverCount must be 1, 3 or 5; got 4');
    expect(() => planScale('prod', 3, 2)).toThrow(RangeError);
    expect(() => zoneForServer(-1)).toThrow('server index must be a non-negative integer; got -1');
    expect(() => zoneForServer(1.5)).toThrow(RangeError);
  });

  it('recognises server counts', () => {
    expect([0, 1, 2, 3, 4, 5, 6, '3'].filter(isServerCount)).toEqual([1, 3, 5]);
  });
});
