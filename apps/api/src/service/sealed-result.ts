// Results the worker seals for one reading (a new root token, a peering token): for an operator
// of the cluster's subscription (the caller's scope was checked when the operation was found),
// once, within SEALED_RESULT_TTL_MS of being written; then they are gone from the store. Readers
// get the same 404 as for a result that never existed. The API sweeps unread ones every minute.
import { status as GrpcStatus } from '@grpc/grpc-js';
import { peeringTokenResultName, rootTokenResultName, sealContext } from '../../../../contract/secret-names.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { SqlDatabase } from '../../../../store/database.js';
import type { OperationRecord } from '../../../../store/operations.js';
import { deleteSecretsWrittenBefore, takeSecret } from '../../../../store/secrets.js';
import type { RequestContext } from '../context.js';
import { ApiError, notFound } from '../errors.js';
import { hasRole } from './authorize.js';

/** How long a sealed result can be read (once) after the worker wrote it. */
export const SEALED_RESULT_TTL_MS = 15 * 60_000;

/** Deletes the sealed results nobody read in time (the API runs this every minute). */
export async function sweepSealedResults(db: SqlDatabase, now = Date.now()): Promise<number> {
  const cutoff = new Date(now - SEALED_RESULT_TTL_MS);
  let swept = 0;
  for (const prefix of [rootTokenResultName(''), peeringTokenResultName('')]) swept += await deleteSecretsWrittenBefore(db, prefix, cutoff);
  return swept;
}

/**
 * Takes the sealed result `name` of `op` and opens it; `again` tells the caller how to get
 * another (e.g. "run createRootToken again").
 */
export async function takeSealedResult<T>(
  deps: { db: SqlDatabase; sealer: SecretBox },
  op: OperationRecord,
  ctx: RequestContext,
  o: { name: string; shown: string; again: string },
): Promise<T> {
  const what = `The result of operation ${op.operationId}`;
  if (!hasRole(ctx, 'operator')) throw notFound(what);
  const minutes = SEALED_RESULT_TTL_MS / 60_000;
  const taken = await takeSecret(deps.db, op.resourceKey, o.name);
  if (!taken)
    throw new ApiError(
      404,
      GrpcStatus.NOT_FOUND,
      'ResourceNotFound',
      `${what} was not found: ${o.shown} is shown once, within ${minutes} minutes; ${o.again} for another.`,
    );
  if (Date.now() - taken.writtenAt.getTime() > SEALED_RESULT_TTL_MS)
    throw new ApiError(
      404,
      GrpcStatus.NOT_FOUND,
      'ResourceNotFound',
      `${what} expired ${minutes} minutes after it was made and was deleted; ${o.again}.`,
    );
  return JSON.parse(deps.sealer.open(taken.ciphertext, sealContext(op.resourceKey, o.name))) as T;
}
