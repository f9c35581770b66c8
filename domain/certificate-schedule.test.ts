import { describe, expect, it } from 'vitest';
import { certificateCheckInterval, certificateScheduleId, certificateSchedulePhase } from './certificate-schedule.js';

describe('certificate schedule timing', () => {
  it('checks every twelfth of the certificate lifetime, at least every 10 seconds', () => {
    expect(certificateCheckInterval(72)).toBe(6 * 3600);
    expect(certificateCheckInterval(1)).toBe(300);
    expect(certificateCheckInterval(0.01)).toBe(10);
  });

  it('shifts the check half an hour from the whole-hour snapshot schedule, or half the interval when shorter', () => {
    expect(certificateSchedulePhase(6 * 3600)).toBe(1800);
    expect(certificateSchedulePhase(1800)).toBe(900);
    expect(certificateSchedulePhase(45)).toBe(22);
  });

  it("names the schedule after the cluster's resource key", () => {
    expect(certificateScheduleId('/subscriptions/s/resourcegroups/g/providers/p/clusters/c')).toBe(
      'certificates//subscriptions/s/resourcegroups/g/providers/p/clusters/c',
    );
  });
});
