// A cluster's snapshot and certificate schedules are made in the same second. Unshifted, a
// 12-hour certificate check would fire in the same second as an hourly snapshot every time, and
// the one-operation rule would skip the check (certificates would then expire after 72 hours).
// The certificate schedule is shifted half an hour: on the real Temporal server, the next firings
// of the two schedules never meet.
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { certificateCheckInterval, certificateSchedulePhase } from '../../domain/certificate-schedule.js';
import { deleteSchedule, upsertIntervalSchedule } from '../../activities/schedules.js';
import { useTemporalClient } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const client = useTemporalClient(stack);

it('the certificate check never fires in the second an hourly snapshot does', async () => {
  const id = randomUUID();
  const base = { workflowType: 'noSuchWorkflow', args: [], taskQueue: `phase-${id}`, note: 'phase test' };
  const snapshot = `phase-test/${id}/snapshots`;
  const certificates = `phase-test/${id}/certificates`;
  const interval = certificateCheckInterval(72); // a twelfth of 72-hour certificates
  await upsertIntervalSchedule(client.schedule, { ...base, scheduleId: snapshot, intervalSeconds: 3600 });
  await upsertIntervalSchedule(client.schedule, {
    ...base,
    scheduleId: certificates,
    intervalSeconds: interval,
    phaseSeconds: certificateSchedulePhase(interval),
  });
  try {
    const offset = async (sid: string) => Number((await client.schedule.getHandle(sid).describe()).spec.intervals?.[0]?.offset ?? 0);
    const [s, c] = [await offset(snapshot), await offset(certificates)];
    // Made within a second or two of each other: half an hour apart within the hour, give or take that.
    const apart = (((c - s) % 3_600_000) + 3_600_000) % 3_600_000;
    expect(apart).toBeGreaterThanOrEqual(1_795_000);
    expect(apart).toBeLessThanOrEqual(1_805_000);
    const next = async (sid: string) => (await client.schedule.getHandle(sid).describe()).info.nextActionTimes.map((d) => d.getTime());
    const snapshotTimes = new Set(await next(snapshot));
    for (const t of await next(certificates)) expect(snapshotTimes.has(t)).toBe(false);
  } finally {
    await deleteSchedule(client.schedule, snapshot);
    await deleteSchedule(client.schedule, certificates);
  }
});

it('short test intervals are shifted by half an interval', () => {
  expect(certificateSchedulePhase(15)).toBe(7);
  expect(certificateSchedulePhase(43_200)).toBe(1800);
});
