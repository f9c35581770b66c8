// Scheduled operations (issue 12, item 2) as an attacker sees them: an upgrade waiting for its
// window holds no lock, and cancelling it ends it at once - so a cancel from anyone but an
// operator of its subscription must not reach it. Callers of other subscriptions and strangers get
// the same 404 as for an operation that does not exist, readers get 403, nobody without a token
// gets anything, and afterwards the operation is still Scheduled and the cluster unchanged.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { workflowIdFor } from '../../domain/resource-id.js';
import { getOperation, beginOperation } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
let cp: ControlPlane;
const sub = randomUUID();
const path = clusterPath(sub, 'rg', 'waiting-upgrade');
const key = path.toLowerCase();

beforeAll(async () => {
  cp = await startControlPlane(stack);
  await cp.registerSubscription(sub);
  expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.73.0.0/16') })).status).toBe(
    201,
  );
  await waitForState(cp, path, ['Succeeded']);
});
afterAll(async () => cp?.close());

it('only an operator of its subscription can cancel a Scheduled upgrade or read it', async () => {
  // Recorded as the API records an upgrade (its workflow is not needed for the refusals).
  const operationId = randomUUID();
  const op = await beginOperation(cp.db, {
    operationId,
    resourceKey: key,
    subscriptionId: sub,
    location: 'westeurope',
    kind: 'upgrade',
    workflowId: workflowIdFor(key, 'upgrade', operationId),
    correlationId: null,
  });
  expect(op.status).toBe('Scheduled');
  const before = (await rest(cp, 'GET', `${path}?${V}`)).json;
  const statusPath = `/subscriptions/${sub}/providers/HCS.Consul/locations/westeurope/operationStatuses/${operationId}`;
  const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [sub] });
  const otherOperator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [randomUUID()] });
  const attackerSub = cp.scopedSubscriptionIds[0]!;
  const scopedElsewhere = cp.scopedToken(attackerSub);

  // Another subscription's operators: the victim's path, and the operation id under their own subscription.
  for (const token of [otherOperator, scopedElsewhere]) {
    for (const p of [statusPath, statusPath.replace(sub, attackerSub)]) {
      expect((await rest(cp, 'POST', `${p}/cancel?${V}`, { token })).status, p).toBe(404);
      expect((await rest(cp, 'GET', `${p}?${V}`, { token })).status, p).toBe(404);
    }
  }
  // Readers of the subscription may read it but not cancel it; no token gets nothing.
  expect((await rest(cp, 'POST', `${statusPath}/cancel?${V}`, { token: reader })).status).toBe(403);
  expect((await rest(cp, 'POST', `${statusPath}/cancel?${V}`, { token: cp.tokens.reader })).status).toBe(403);
  expect((await rest(cp, 'POST', `${statusPath}/cancel?${V}`, { token: null })).status).toBe(401);
  const read = await rest(cp, 'GET', `${statusPath}?${V}`, { token: reader });
  expect(read.status).toBe(200);
  expect(read.json).toMatchObject({ name: operationId, status: 'Scheduled' });

  // Nothing changed.
  expect((await getOperation(cp.db, operationId))!.status).toBe('Scheduled');
  expect((await rest(cp, 'GET', `${path}?${V}`)).json).toEqual(before);

  // The subscription's operator can: it ends at once.
  const operator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub] });
  const cancel = await rest(cp, 'POST', `${statusPath}/cancel?${V}`, { token: operator });
  expect(cancel.status).toBe(200);
  expect(cancel.json).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
});
