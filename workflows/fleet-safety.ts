// The fleet design of the safety schedules (activities/fleet-safety.ts): each firing of the
// control plane's one fleet schedule starts the snapshot and certificate firings due in its slot.
// The slot begins at the firing's nominal time, which Temporal appends to a scheduled workflow's
// id; a firing started by hand (no time in its id) takes the slot its start time falls in.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { FleetSafetyActivities } from '../activities/fleet-safety.js';
import { retry } from './lifecycle.js';

const fleet = proxyActivities<FleetSafetyActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
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
  return fleet.startDueFirings({
    slotStart,
    slotSeconds: a.slotSeconds,
    ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
  });
}
