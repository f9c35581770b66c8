// A delete's queue ends an operation whose workflow never ran as Canceled (store/delete-queue.ts),
// on the real store database: the first call ends it and returns what the metrics count, a second
// call finds it ended and returns nothing, and hcs_operations_ended_total counts it exactly once.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { abandonOperation } from '../../store/delete-queue.js';
import { beginOperation, getOperation } from '../../store/operations.js';
import { countOperationEnded, metricsRegistry } from '../../lib/metrics.js';
import { newOperation, useStoreDatabase } from '../support/store-fixture.js';

const database = useStoreDatabase();

async function canceledSnapshots(): Promise<number> {
  const metric = (await metricsRegistry.getMetricsAsJSON()).find((m) => m.name === 'hcs_operations_ended_total');
  const value = metric?.values.find((v) => v.labels.kind === 'snapshot' && v.labels.status === 'Canceled');
  return Number(value?.value ?? 0);
}

it('ends an unfinished operation as Canceled once, and the metrics count it once', async () => {
  const key = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/abandon`;
  const op = await beginOperation(database(), newOperation(key, 'snapshot'));
  const before = await canceledSnapshots();

  const ended = await abandonOperation(database(), op.operationId);
  expect(ended).toMatchObject({ kind: 'snapshot', status: 'Canceled' });
  expect(Date.parse(ended!.endedAt!)).toBeGreaterThanOrEqual(Date.parse(ended!.startedAt));
  countOperationEnded(ended);
  expect(await getOperation(database(), op.operationId)).toMatchObject({
    status: 'Canceled',
    error: { code: 'OperationCanceled' },
  });

  // Already ended: nothing is returned, so nothing is counted again.
  const again = await abandonOperation(database(), op.operationId);
  expect(again).toBeUndefined();
  countOperationEnded(again);
  expect((await canceledSnapshots()) - before).toBe(1);
});
