import { describe, expect, it } from 'vitest';
import { countOperationEnded, countOperationStarted, metricsRegistry } from './metrics.js';

async function sample(name: string, labels: Record<string, string>): Promise<number | undefined> {
  type Value = { labels: Record<string, string | number>; value: number; metricName?: string };
  const values = (await metricsRegistry.getMetricsAsJSON()).flatMap((m) =>
    (m.values as Value[]).map((v) => ({ ...v, metricName: v.metricName ?? m.name })),
  );
  return values.find((v) => v.metricName === name && Object.entries(labels).every(([k, x]) => String(v.labels[k]) === x))?.value;
}

describe('operation metrics', () => {
  it('counts a start by kind', async () => {
    const before = (await sample('hcs_operations_started_total', { kind: 'scale' })) ?? 0;
    countOperationStarted('scale');
    expect(await sample('hcs_operations_started_total', { kind: 'scale' })).toBe(before + 1);
  });

  it('counts an ended operation once with its duration, and nothing for an update that ended nothing', async () => {
    countOperationEnded(undefined);
    countOperationEnded({ kind: 'upgrade', status: 'Running', startedAt: '2026-01-01T00:00:00Z', endedAt: null });
    expect(await sample('hcs_operations_ended_total', { kind: 'upgrade' })).toBeUndefined();
    countOperationEnded({ kind: 'upgrade', status: 'Failed', startedAt: '2026-01-01T00:00:00Z', endedAt: '2026-01-01T00:01:30Z' });
    expect(await sample('hcs_operations_ended_total', { kind: 'upgrade', status: 'Failed' })).toBe(1);
    expect(await sample('hcs_operation_duration_seconds_sum', { kind: 'upgrade', status: 'Failed' })).toBe(90);
    expect(await sample('hcs_operation_duration_seconds_bucket', { kind: 'upgrade', status: 'Failed', le: '60' })).toBe(0);
    expect(await sample('hcs_operation_duration_seconds_bucket', { kind: 'upgrade', status: 'Failed', le: '120' })).toBe(1);
  });
});
