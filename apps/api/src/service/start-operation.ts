// The API's side of beginning an operation (lib/operation-starter.ts does the beginning): the
// answers a caller gets - 409 naming the operation that holds the cluster, 503 when the workflow
// could not be started or its start could not be confirmed.
import type { OperationKind } from '../../../../domain/resource-id.js';
import { isUniqueViolation, type SqlDatabase, type SqlExecutor } from '../../../../store/database.js';
import { OperationInProgressError, pendingOperation, type OperationRecord } from '../../../../store/operations.js';
import { OperationNotAvailableError, type OperationParams } from '../../../../contract/temporal.js';
import {
  OperationNotStartedError,
  OperationStartUnconfirmedError,
  startOperation as beginAndStart,
  type OperationTarget,
  type WorkflowStarter,
} from '../../../../lib/operation-starter.js';
import type { RequestContext } from '../context.js';
import { badRequest, conflict, unavailable } from '../errors.js';

export type { OperationTarget } from '../../../../lib/operation-starter.js';

/** 409 naming the operation that holds the cluster. */
export function inProgress(op: OperationRecord) {
  return conflict(
    'OperationInProgress',
    `Another operation is in progress on this cluster: ${op.kind} operation ${op.operationId} (${op.status}). Wait for it to finish or cancel it, then retry.`,
  );
}

/** The API error for a failed start (lib/operation-starter.ts), else undefined. */
export function startFailure(err: unknown, what: string, o: { cancellable?: boolean } = {}) {
  if (err instanceof OperationNotStartedError)
    return unavailable(
      `The ${what} could not be started (${err.startError instanceof Error ? err.startError.name : 'error'}); retry the request.`,
    );
  if (err instanceof OperationStartUnconfirmedError)
    return unavailable(
      `The workflow engine did not confirm that ${what} ${err.operation.operationId} started; it stays ${err.operation.status} until it is confirmed or cancelled${o.cancellable === false ? '' : ' (cancel it on its operation status URL to retry now)'}.`,
    );
  return undefined;
}

/** Records the operation (with `write` in the same transaction) and starts its workflow. */
export async function startOperation(
  deps: { db: SqlDatabase; starter: WorkflowStarter },
  o: {
    ctx: RequestContext;
    cluster: OperationTarget;
    kind: OperationKind;
    write: (tx: SqlExecutor, operationId: string) => Promise<void>;
    params?: OperationParams;
  },
): Promise<OperationRecord> {
  const { db } = deps;
  const { ctx, cluster, kind, write, params } = o;
  return beginAndStart(deps, { target: cluster, kind, correlationId: ctx.correlationId, write, ...(params ? { params } : {}) }).catch(
    async (err: unknown) => {
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
      throw startFailure(err, 'operation') ?? err;
    },
  );
}
