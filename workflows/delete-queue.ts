// The first thing a delete's workflow does: cancel every other operation of the cluster that
// has not ended (a create, update or scale running when the DELETE came, a Scheduled upgrade,
// a snapshot, ...), wait until each has ended, then take the one-operation lock. Only then do
// the delete's destructive steps start: two workflows never act on one cluster.
import { getExternalWorkflowHandle, proxyActivities } from '@temporalio/workflow';
import type { DeleteQueueActivities } from '../activities/delete-queue.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { workerFailure } from '../contract/errors.js';
import { continueAsNewWhenLong } from './history-budget.js';

const queue = proxyActivities<DeleteQueueActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});
/** Polls the records; a round ends after a minute so new operations are noticed and cancelled too. */
const waiter = proxyActivities<DeleteQueueActivities>({
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});
const ROUND_SECONDS = 60;

/** Returns once the delete holds the cluster; throws when the delete itself ended meanwhile. */
export async function takeClusterForDelete(input: ClusterOperationInput): Promise<void> {
  const ref = { operationId: input.operationId, resourceKey: input.resourceKey };
  // Workflows asked to stop, each once (Temporal treats a repeated request, and one for a closed
  // workflow, as done; only a workflow it does not have at all refuses it).
  const asked = new Set<string>();
  for (;;) {
    const claim = await queue.claimClusterForDelete(ref);
    if (claim.claimed) return;
    if (claim.ended) throw workerFailure('OperationEnded', `the delete already ended ${claim.status}`);
    for (const o of claim.waitingFor) {
      if (asked.has(o.workflowId)) continue;
      asked.add(o.workflowId);
      const running = await getExternalWorkflowHandle(o.workflowId)
        .cancel()
        .then(
          () => true,
          () => false,
        );
      // Temporal does not have it: nothing acts for it, its record is ended here - unless it may
      // still be starting, then it is asked again next round.
      if (!running && !(await queue.abandonOperation({ operationId: o.operationId, resourceKey: input.resourceKey })))
        asked.delete(o.workflowId);
    }
    await waiter.waitForOperationsToEnd({
      resourceKey: input.resourceKey,
      operationIds: claim.waitingFor.map((o) => o.operationId),
      maxSeconds: ROUND_SECONDS,
    });
    // Waiting for hours (an upgrade's 2-hour snapshot transfer, say): the calling workflow goes
    // on in a new run with the same input (workflows asked to stop are asked once more, harmlessly).
    await continueAsNewWhenLong<(i: ClusterOperationInput) => Promise<void>>(input);
  }
}
