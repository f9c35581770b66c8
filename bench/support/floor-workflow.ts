// The smallest operation Temporal can run: one workflow with one activity that does nothing.
// bench:create measures it beside the create as the floor of any workflow's overhead.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10 seconds' });

export async function floorWorkflow(): Promise<void> {
  await noop();
}
