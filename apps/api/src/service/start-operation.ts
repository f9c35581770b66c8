// The API's side of beginning an operation (lib/operation-starter.ts does the recording): the
// operation and its workflow's start request commit in one transaction (the outbox), the caller
// gets its answer at once and the relay (lib/operation-relay.ts) starts the workflow - nudged
// here, not awaited. Refusals: 409 naming the operation that holds the cluster, 400 for a kind no
// workflow runs.
import type { OperationKind } from '../../../../domain/resource-id.js';
import { isUniqueViolation, type SqlDatabase, type SqlExecutor } from '../../../../store/database.js';
import { OperationInProgressError, pendingOperation, type OperationRecord } from '../../../../store/operations.js';
import { OperationNotAvailableError, type OperationParams } from '../../../../contract/temporal.js';
import { recordOperation, starterTaskQueue, type OperationStarter, type OperationTarget } from '../../../../lib/operation-starter.js';
import type { RequestContext } from '../context.js';
import { badRequest, conflict } from '../errors.js';

export type { OperationTarget } from '../../../../lib/operation-starter.js';

/** What beginning an operation needs: the store, the task queue its start requests are for, the relay to nudge. */
export interface StartDeps {
  db: SqlDatabase;
  starter: Pick<OperationStarter, 'taskQueue'>;
  /** The process's relay (lib/operation-relay.ts); without one, a relay elsewhere polls. */
  relay?: { nudge(): void };
}

/** 409 naming the operation that holds the cluster. */
export function inProgress(op: OperationRecord) {
  return conflict(
    'OperationInProgress',
    `Another operation is in progress on this cluster: ${op.kind} operation ${op.operationId} (${op.status}). Wait for it to finish or cancel it, then retry.`,
  );
}

/**
 * Test hook, off unless the environment sets it: the process kills itself (SIGKILL) right after
 * an operation and its start request committed and before anything starts the workflow - the
 * crash the outbox must survive (test/api/outbox-crash.test.ts).
 */
export const CRASH_AFTER_COMMIT_HOOK = 'TEST_HOOK_SIGKILL_AFTER_OPERATION_COMMIT';

/** After the commit: the crash hook (tests only), then the relay's nudge. */
export function accepted(deps: StartDeps): void {
  if (process.env[CRASH_AFTER_COMMIT_HOOK] === '1') process.kill(process.pid, 'SIGKILL');
  deps.relay?.nudge();
}

/** Records the operation with `write` and its start request in one transaction; starts nothing itself. */
export async function startOperation(
  deps: StartDeps,
  o: {
    ctx: RequestContext;
    cluster: OperationTarget;
    kind: OperationKind;
    write: (tx: SqlExecutor, operationId: string) => Promise<void>;
    /** The transaction's last step (lib/operation-starter.ts OperationRequest.lastCheck). */
    lastCheck?: (tx: SqlExecutor) => Promise<void>;
    params?: OperationParams;
  },
): Promise<OperationRecord> {
  const { db } = deps;
  const { ctx, cluster, kind, write, lastCheck, params } = o;
  const { operation } = await recordOperation(db, {
    target: cluster,
    kind,
    correlationId: ctx.correlationId,
    startedBy: ctx.caller.subject,
    write,
    ...(lastCheck ? { lastCheck } : {}),
    ...(params ? { params } : {}),
    outbox: { taskQueue: starterTaskQueue(deps.starter) },
  }).catch(async (err: unknown) => {
    // A kind no production workflow runs (maintenance) is refused before anything is recorded.
    if (err instanceof OperationNotAvailableError) throw badRequest('OperationNotAvailable', err.message);
    if (err instanceof OperationInProgressError) throw inProgress(err.running);
    // A concurrent request won the race to the new cluster's row (the caller's write) between
    // our check and our insert: name its operation, as the check would have.
    if (isUniqueViolation(err)) {
      const running = await pendingOperation(db, cluster.resourceKey);
      if (running) throw inProgress(running);
      throw conflict('ConcurrentRequest', 'Another request changed this cluster at the same moment; read it and retry.');
    }
    throw err;
  });
  accepted(deps);
  return operation;
}
