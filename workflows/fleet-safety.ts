// The fleet design of the safety schedules (activities/fleet-safety.ts): each firing of the
// control plane's one fleet schedule starts the snapshot and certificate firings due in its slot.
// The slot begins at the firing's nominal time, which Temporal appends to a scheduled workflow's
// id; a firing started by hand (no time in its id) takes the slot its start time falls in.
//
// The starts run as a local activity, in the firing's own workflow task: an activity task would
// wait in the task queue behind the work the earlier firings started (snapshots, certificate
// checks), so with a fleet whose work backs up the firings would come later and later
// (bench/results/fleet-scale.txt). Firings recorded before (patch fleet-firing-local) replay with
// the activity task.
import { patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { FleetSafetyActivities } from '../activities/fleet-safety.js';
import { retry } from './lifecycle.js';

const fleet = proxyActivities<FleetSafetyActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { ...retry, maximumAttempts: 10 },
});
/** A slot's starts take seconds (16 at a time); a lost attempt is retried by the worker itself. */
const local = proxyLocalActivities<FleetSafetyActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { ...retry, maximumAttempts: 10 },
});

export async function fleetSafetyFiring(a: {
  slotSeconds: number;
  /** Only this subscription's clusters. */
  subscriptionId?: string;
}): Promise<{ due: number; started: number; alreadyStarted: number }> {
  const info = workflowInfo();
  const nominal = /-(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)$/.exec(info.workflowId)?.[1];
  const slotMs = a.slotSeconds * 1000;
  const slotStart = nominal ?? new Date(Math.floor(info.startTime.getTime() / slotMs) * slotMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const starter = patched('fleet-firing-local') ? local : fleet;
  return starter.startDueFirings({
    slotStart,
    slotSeconds: a.slotSeconds,
    ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
  });
}
