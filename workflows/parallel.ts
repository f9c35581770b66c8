// Steps of a workflow that run at once. Deterministic: promises and a cancellation scope only.
import { CancellationScope, isCancellation } from '@temporalio/workflow';

/**
 * Runs the branches at once and returns their results in order, once every branch has settled
 * (an activity's promise settles once it has stopped: WAIT_CANCELLATION_COMPLETED), so nothing
 * started here still acts when this returns or throws.
 *
 * A failure: with `cancelOthersOnFailure` the other branches are cancelled first (for a branch
 * that may wait long, a health gate); then the failure of the first-listed branch that failed
 * other than by cancellation is thrown, so which error is reported never depends on which
 * branch happened to fail first. Only cancellations (the workflow cancelled): the first of them.
 */
export async function inParallel<T extends unknown[]>(
  branches: [...{ [K in keyof T]: () => Promise<T[K]> }],
  o: { cancelOthersOnFailure: boolean },
): Promise<T> {
  const scope = new CancellationScope();
  const settled = await scope.run(() =>
    Promise.allSettled(
      (branches as Array<() => Promise<unknown>>).map((branch) =>
        branch().catch((err: unknown) => {
          if (o.cancelOthersOnFailure && !isCancellation(err)) scope.cancel();
          throw err;
        }),
      ),
    ),
  );
  const failures = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failures.length) throw failures.find((err) => !isCancellation(err)) ?? failures[0];
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as T;
}
