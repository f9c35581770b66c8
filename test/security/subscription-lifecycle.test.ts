// Issue 11, item 1: only Azure Resource Manager (client certificate or ARM token) and a platform
// admin (an admin operator token scoped to every subscription) speak for a subscription. A
// customer's admin tries to mark another tenant's subscription Deleted, Suspended, Warned and
// Unregistered, and to send Marketplace notifications, over REST and gRPC: every attempt is
// refused and the victim's subscription, cluster and operations are exactly as before.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { NotificationService } from '../../gen/hcs/consul/v1/notification_service_pb.js';
import { getCluster } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { getSubscription } from '../../store/subscriptions.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { grpc } from './grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
let cp: ControlPlane;
const victim = randomUUID();
const attackerSub = randomUUID();
const victimCluster = clusterPath(victim, 'rg-victim', 'crown-jewels');
const STATES = ['Deleted', 'Suspended', 'Warned', 'Unregistered'];

beforeAll(async () => {
  cp = await startControlPlane(stack);
  await cp.registerSubscription(victim);
  await cp.registerSubscription(attackerSub);
  const put = await rest(cp, 'PUT', `${victimCluster}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.61.0.0/16') });
  expect(put.status).toBe(201);
  await waitForState(cp, victimCluster, ['Succeeded']);
});
afterAll(async () => {
  await cp?.close();
});

/** Everything an attack could have changed about the victim. */
async function victimState() {
  const sub = await getSubscription(cp.db, victim);
  const cluster = await getCluster(cp.db, victimCluster.toLowerCase());
  const ops = await listOperations(cp.db, victimCluster.toLowerCase());
  return {
    subscription: sub && { state: sub.state, updatedAt: sub.updatedAt },
    cluster: cluster && { state: cluster.provisioningState, etag: cluster.etag },
    operations: ops.map((o) => `${o.kind}:${o.status}`),
  };
}

describe('customers cannot speak for a subscription', () => {
  it('a customer admin (user JWT, HCS.Admin on its own subscription) is refused for every state, on REST and gRPC', async () => {
    const before = await victimState();
    expect(before.subscription?.state).toBe('Registered');
    const admin = await cp.mintJwt('user', { roles: ['HCS.Admin'], hcs_subscriptions: [attackerSub] });
    // Even an admin scoped to the victim's subscription is a customer, not ARM.
    const victimsOwnAdmin = await cp.mintJwt('user', { roles: ['HCS.Admin'], hcs_subscriptions: [victim] });
    const scopedOperator = cp.scopedToken(cp.scopedSubscriptionIds[0]!);
    for (const token of [admin, victimsOwnAdmin, scopedOperator, cp.tokens.reader, cp.tokens.operator]) {
      for (const state of STATES) {
        const r = await rest(cp, 'PUT', `/subscriptions/${victim}?api-version=2.0`, { token, body: { state } });
        expect(r.status, `${state}`).toBe(403);
        expect(r.json.error.code).toBe('AuthorizationFailed');
        const g = await grpc(cp, NotificationService, 'PutSubscription', { subscriptionId: victim, subscription: { state } }, token);
        expect(g.code, `gRPC ${state}: ${g.details}`).toBe(7); // PERMISSION_DENIED
      }
      const n = await rest(cp, 'POST', '/resource', {
        token,
        body: {
          eventType: 'DELETE',
          applicationId: `/subscriptions/${victim}/resourceGroups/rg-victim/providers/Microsoft.Solutions/applications/app`,
          provisioningState: 'Deleted',
          eventTime: new Date().toISOString(),
        },
      });
      expect(n.status).toBe(403);
    }
    expect(await victimState()).toEqual(before);
  });

  it('Azure Resource Manager and a platform admin may, and a Deleted subscription from ARM does delete its clusters', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const path = clusterPath(sub, 'rg', 'doomed');
    expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.62.0.0/16') })).status).toBe(
      201,
    );
    await waitForState(cp, path, ['Succeeded']);
    const warned = await rest(cp, 'PUT', `/subscriptions/${sub}?api-version=2.0`, { token: cp.tokens.admin, body: { state: 'Warned' } });
    expect(warned.status).toBe(200);
    expect((await getSubscription(cp.db, sub))?.state).toBe('Warned');
    const viaCert = await rest(cp, 'PUT', `/subscriptions/${sub}?api-version=2.0`, {
      token: null,
      clientCert: cp.clientCerts.arm,
      body: { state: 'Registered' },
    });
    expect(viaCert.status).toBe(200);
    const deleted = await rest(cp, 'PUT', `/subscriptions/${sub}?api-version=2.0`, {
      token: await cp.mintJwt('arm'),
      body: { state: 'Deleted' },
    });
    expect(deleted.status).toBe(200);
    const ops = await listOperations(cp.db, path.toLowerCase());
    expect(ops.map((o) => o.kind)).toContain('delete');
    // The victim of the first test is still untouched by all of this.
    expect((await getSubscription(cp.db, victim))?.state).toBe('Registered');
  });

  it('a stranger client certificate is not ARM', async () => {
    const r = await rest(cp, 'PUT', `/subscriptions/${victim}?api-version=2.0`, {
      token: null,
      clientCert: cp.clientCerts.stranger,
      body: { state: 'Deleted' },
    });
    expect(r.status).toBe(403);
    expect((await getSubscription(cp.db, victim))?.state).toBe('Registered');
  });
});

describe('writes need a registered subscription', () => {
  it('a PUT into a subscription ARM never registered gets 409 SubscriptionNotRegistered and writes nothing', async () => {
    const unknown = randomUUID();
    const path = clusterPath(unknown, 'rg', 'early');
    const r = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.63.0.0/16') });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('SubscriptionNotRegistered');
    expect(r.json.error.message).toContain(unknown);
    expect(await getCluster(cp.db, path.toLowerCase())).toBeUndefined();
    expect(await listOperations(cp.db, path.toLowerCase())).toEqual([]);
    // Reads are fine: there is simply nothing.
    expect((await rest(cp, 'GET', `${path}?${V}`)).status).toBe(404);
  });
});
