// The one-operation rule with Scheduled operations, on the real store database: an upgrade is
// recorded Scheduled and holds no lock, so certificate rotation and snapshots start beside it
// while create, update, scale and a second upgrade are refused; it takes the lock only when
// nothing holds it, exactly once, and a cancelled one can never take it.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { newOperation, useStoreDatabase } from '../support/store-fixture.js';
import {
  activeOperation,
  cancelScheduled,
  claimOperation,
  getOperation,
  beginOperation,
  OperationInProgressError,
  pendingOperation,
  recordOperationProgress,
  updateOperation,
} from '../../store/operations.js';

const database = useStoreDatabase();

const clusterKey = () => `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/sched`;
const record = (resourceKey: string, kind: string) => beginOperation(database(), newOperation(resourceKey, kind));
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

it('an upgrade is Scheduled and holds nothing: rotation and snapshots start beside it, customer changes do not', async () => {
  const key = clusterKey();
  const upgrade = await record(key, 'upgrade');
  expect(upgrade.status).toBe('Scheduled');
  expect(await activeOperation(database(), key)).toBeUndefined();
  expect((await pendingOperation(database(), key))?.operationId).toBe(upgrade.operationId);
  // Progress while it waits keeps it Scheduled.
  await recordOperationProgress(database(), upgrade.operationId, 'waiting for the maintenance window', 8);
  expect(await getOperation(database(), upgrade.operationId)).toMatchObject({
    status: 'Scheduled',
    step: 'waiting for the maintenance window',
  });

  for (const kind of ['update', 'scale', 'restore', 'token', 'upgrade', 'delete']) {
    const err = await refusal(record(key, kind));
    expect(err, kind).toBeInstanceOf(OperationInProgressError);
    expect((err as OperationInProgressError).running.operationId).toBe(upgrade.operationId);
  }
  const snapshotDelete = await record(key, 'snapshotdelete');
  expect(snapshotDelete.status).toBe('Accepted');
  await updateOperation(database(), snapshotDelete.operationId, { status: 'Succeeded' });
  const rotation = await record(key, 'rotate');
  expect(rotation.status).toBe('Accepted');
  // The lock's holder is what a new request waits for, before the Scheduled upgrade that is older.
  expect((await pendingOperation(database(), key))?.operationId).toBe(rotation.operationId);
  // While the rotation holds the lock, a snapshot is refused (one lock holder) and the upgrade cannot claim.
  expect(await refusal(record(key, 'snapshot'))).toBeInstanceOf(OperationInProgressError);
  const busy = await claimOperation(database(), upgrade.operationId);
  expect(busy).toMatchObject({ claimed: false, ended: false, waitingFor: [{ operationId: rotation.operationId }] });
  expect((await getOperation(database(), upgrade.operationId))!.status).toBe('Scheduled');

  await updateOperation(database(), rotation.operationId, { status: 'Succeeded' });
  expect(await claimOperation(database(), upgrade.operationId)).toEqual({ claimed: true });
  expect((await activeOperation(database(), key))?.operationId).toBe(upgrade.operationId);
  // Claiming again (a retried activity) is idempotent; now nothing else may start.
  expect(await claimOperation(database(), upgrade.operationId)).toEqual({ claimed: true });
  expect(await refusal(record(key, 'rotate'))).toBeInstanceOf(OperationInProgressError);
});

it('a cancelled Scheduled operation ends at once and can never take the lock', async () => {
  const key = clusterKey();
  const upgrade = await record(key, 'upgrade');
  const rotation = await record(key, 'rotate');
  // Cancelled while another operation holds the lock: Canceled at once (Canceling would need the lock).
  const canceled = await cancelScheduled(database(), upgrade.operationId);
  expect(canceled).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
  expect(canceled!.endedAt).not.toBeNull();
  expect((await activeOperation(database(), key))?.operationId).toBe(rotation.operationId);
  await updateOperation(database(), rotation.operationId, { status: 'Succeeded' });
  expect(await claimOperation(database(), upgrade.operationId)).toEqual({ claimed: false, ended: true, status: 'Canceled' });
  expect(await activeOperation(database(), key)).toBeUndefined();
  // Only a Scheduled operation is ended this way; a running one goes through Canceling.
  const running = await record(key, 'update');
  expect(await cancelScheduled(database(), running.operationId)).toBeUndefined();
  expect((await getOperation(database(), running.operationId))!.status).toBe('Accepted');
});

it('two upgrades recorded at the same moment: one is Scheduled, the other refused', async () => {
  const key = clusterKey();
  const results = await Promise.allSettled([record(key, 'upgrade'), record(key, 'upgrade')]);
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const { rows } = await database().query<{ n: string | number }>(
    `SELECT count(*) AS n FROM operations WHERE resource_id = $1 AND status = 'Scheduled'`,
    [key],
  );
  expect(Number(rows[0]!.n)).toBe(1);
});
