// bench/support/report.ts: a figure line shows its goal as met or missed, its same-run baseline
// and the previous committed figure with the change.
import { describe, expect, it } from 'vitest';
import { figureLine, meets } from '../../bench/support/report.js';

describe('bench report figures', () => {
  it('judges max and min goals', () => {
    expect(meets({ kind: 'max', value: 50 }, 50)).toBe(true);
    expect(meets({ kind: 'max', value: 50 }, 51)).toBe(false);
    expect(meets({ kind: 'min', value: 0.5 }, 0.49)).toBe(false);
    expect(meets({ kind: 'min', value: 0.5 }, 0.5)).toBe(true);
  });

  it('prints the goal, the baseline and the previous figure with its change', () => {
    const line = figureLine(
      { name: 'PUT accept p99', value: 2010, unit: 'ms', goal: { kind: 'max', value: 50 }, baseline: { label: 'bare', value: 2 } },
      { value: 1005, unit: 'ms' },
    );
    expect(line).toMatch(/^PUT accept p99 +2010 ms/);
    expect(line).toContain('goal <= 50 ms (MISSED)');
    expect(line).toContain('baseline bare 2 ms');
    expect(line).toContain('previous 1005 ms (+100%)');
  });

  it('says when there is no previous figure, or one in another unit', () => {
    expect(figureLine({ name: 'x', value: 1.5, unit: 's' })).toContain('previous -');
    expect(figureLine({ name: 'x', value: 1.5, unit: 's' }, { value: 1500, unit: 'ms' })).toContain('previous -');
    expect(figureLine({ name: 'x', value: 0.6, unit: 'x', goal: { kind: 'min', value: 0.5 } }, { value: 0.8, unit: 'x' })).toContain(
      'goal >= 0.50 x (met)   previous 0.80 x (-25%)',
    );
  });
});
