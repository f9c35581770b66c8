// The stand-in operation workflow, for the API's contract tests only (STAND_IN_WORKFLOW_TYPES):
// production never starts it. It does no infrastructure work at all; it only walks the
// operation's records through Running to Succeeded (or Failed/Canceled) so the API's
// asynchronous contract can be exercised end to end. Its name says so on purpose.
import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';
import type { StoreActivities } from '../activities/store.js';
import { PROGRESS_QUERY, type ClusterOperationInput, type OperationProgress } from '../contract/temporal.js';
import { takeClusterForDelete } from './delete-queue.js';
import { isContinueAsNew } from './history-budget.js';

const store = proxyActivities<StoreActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
});

export const progressQuery = defineQuery<OperationProgress>(PROGRESS_QUERY);

export async function clusterOperationStandIn(input: ClusterOperationInput): Promise<void> {
  let progress: OperationProgress = { step: 'accepted', percentComplete: 0 };
  setHandler(progressQuery, () => progress);
  const ref = { operationId: input.operationId, resourceKey: input.resourceKey };
  try {
    // A delete first waits for what it cancelled, as the real one does.
    if (input.kind === 'delete') await takeClusterForDelete(input);
    progress = { step: 'stand-in', percentComplete: 50 };
    await store.recordProgress({ operationId: input.operationId, ...progress });
    await sleep('500 milliseconds');
    if (input.kind === 'delete') await store.completeDelete(ref);
    else await store.completeOperation(ref);
    progress = { step: 'done', percentComplete: 100 };
  } catch (err) {
    // A long delete wait continuing in a new run (history-budget.ts): the operation goes on there.
    if (isContinueAsNew(err)) throw err;
    // Recording the outcome must happen even when the workflow itself is being cancelled.
    await CancellationScope.nonCancellable(() =>
      store.failOperation({
        ...ref,
        status: isCancellation(err) ? 'Canceled' : 'Failed',
        error: isCancellation(err)
          ? { code: 'OperationCanceled', message: 'The operation was canceled on request.' }
          : {
              code: 'InternalError',
              message: `The operation failed: ${err instanceof ApplicationFailure ? err.message : 'internal error'}`,
            },
      }),
    );
    throw err;
  }
}
