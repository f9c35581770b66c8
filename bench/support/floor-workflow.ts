// Temporal's floors for bench:create, workflows whose activities do nothing:
// - floorWorkflow: the smallest operation, one workflow with one activity;
// - createShapeFloorWorkflow: a create's shape (workflows/converge.ts convergeInParallel, a new
//   cluster without federation): the same local and remote activities in the same order and
//   groups, each empty. What Temporal alone costs for a create's chain of steps on this machine.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });
const local = proxyLocalActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function floorWorkflow(): Promise<void> {
  await noop();
}

/** The number of remote activities createShapeFloorWorkflow runs, and of local ones. */
export const CREATE_SHAPE = { remote: 12, local: 8 };

export async function createShapeFloorWorkflow(): Promise<void> {
  // The plan, the servers and the first progress (local); PKI, endpoint certificate, container, secrets.
  await Promise.all([local.noop(), local.noop(), local.noop()]);
  await Promise.all([noop(), noop(), noop(), noop()]);
  // Progress, then Terraform; progress, then the servers' files, the gate and the ACLs beside the
  // endpoint and the client configuration.
  await local.noop();
  await noop();
  await local.noop();
  await Promise.all([
    (async () => {
      await noop();
      await local.noop();
      await noop();
      await noop();
    })(),
    noop(),
    noop(),
  ]);
  // The servers recorded (local) beside the two schedules; the operation completed (local).
  await Promise.all([local.noop(), noop(), noop()]);
  await local.noop();
}
