// Cancelling a Scheduled operation (recorded, waiting, holding no lock) over the real API and
// store: it ends Canceled at once even while another operation is Canceling (moving it to
// Canceling would need the lock that one holds), and a waiting delete cancelled this way marks
// the cluster Canceled as a cancelled delete does; the other operation is left as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { getOperation, beginOperation, listOperations, updateOperation } from '../../store/operations.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => cp?.close());

it('a delete waiting for a Canceling operation is cancelled at once; the cluster is Canceled, the other operation untouched', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg', 'waiting-delete');
  expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.72.0.0/16') })).status).toBe(
    201,
  );
  await waitForState(cp, path, ['Succeeded']);
  const key = path.toLowerCase();
  // An operation that holds the lock and is being cancelled (its workflow has not ended yet).
  const blocker = await beginOperation(cp.db, {
    operationId: randomUUID(),
    resourceKey: key,
    subscriptionId: sub,
    location: 'westeurope',
    kind: 'restore',
    workflowId: `cancel-scheduled-blocker-${randomUUID()}`,
    correlationId: null,
  });
  await updateOperation(cp.db, blocker.operationId, { status: 'Canceling' });

  const del = await rest(cp, 'DELETE', `${path}?${V}`);
  expect(del.status).toBe(202);
  const deleteOp = (await listOperations(cp.db, key)).find((o) => o.kind === 'delete')!;
  expect(deleteOp.status).toBe('Scheduled');

  // A reader may not cancel it; the operator may.
  const cancelPath = `/subscriptions/${sub}/providers/HCS.Consul/locations/westeurope/operationStatuses/${deleteOp.operationId}/cancel?${V}`;
  expect((await rest(cp, 'POST', cancelPath, { token: cp.tokens.reader })).status).toBe(403);
  expect((await getOperation(cp.db, deleteOp.operationId))!.status).toBe('Scheduled');
  const cancel = await rest(cp, 'POST', cancelPath);
  expect(cancel.status, JSON.stringify(cancel.json)).toBe(200);
  expect(cancel.json).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
  expect((await getOperation(cp.db, blocker.operationId))!.status).toBe('Canceling');
  expect((await rest(cp, 'GET', `${path}?${V}`)).json.properties.provisioningState).toBe('Canceled');
  // Cancelling it again: it has ended.
  expect((await rest(cp, 'POST', cancelPath)).json).toMatchObject({ error: { code: 'OperationAlreadyEnded' } });
  await updateOperation(cp.db, blocker.operationId, { status: 'Canceled' });
});
