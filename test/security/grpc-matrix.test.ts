// Issue 11, item 6: the role x subscription matrix of the REST contract tests, over real gRPC
// with TLS, for every RPC of every service (iterated from the generated descriptors). Each RPC
// is aimed at a victim's cluster, operation and snapshot by: no credentials (UNAUTHENTICATED);
// readers, operators and admins of another subscription (NOT_FOUND, exactly the answer a
// subscription that does not exist gets: no hint), or PERMISSION_DENIED where their role is too
// low; the victim's own readers where the RPC needs an operator (PERMISSION_DENIED). The
// notification RPCs are for ARM and platform admins only: PERMISSION_DENIED for user tokens and
// scoped or reader operator tokens. Afterwards every row of the victim's subscription in the
// store is exactly as before.
import { randomUUID } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { GrpcConnection, makeVictim, requestFor, RPCS, storeRows, type GrpcAnswer, type Victim } from './grpc-support.js';

const stack = inject('stack');

/** RPCs a reader may call; every other cluster and operation RPC needs an operator. */
const READER_RPCS = new Set([
  'GetCluster',
  'ListClustersByResourceGroup',
  'ListClustersBySubscription',
  'ListSnapshots',
  'GetSnapshot',
  'ListUpgradeVersions',
  'GetFederation',
  'GetBillingInfo',
  'ListAuditLogs',
  'GetBillingReport',
  'GetOperation',
  'GetOperationResult',
  'ListOperations',
]);
const isNotification = (service: string) => service === 'hcs.consul.v1.NotificationService';

let cp: ControlPlane;
let grpc: GrpcConnection;
let victim: Victim;
/** The same request in a subscription nobody ever registered: what "not found" looks like. */
let ghost: Victim;
let attackerSub: string;
let before: Record<string, string[]>;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  cp = await startControlPlane(stack);
  grpc = new GrpcConnection(cp);
  victim = await makeVictim(cp, randomUUID(), stack.tools.consulVersions.at(-1)!, '10.62.0.0/16');
  ghost = { ...victim, subscriptionId: randomUUID() };
  attackerSub = cp.scopedSubscriptionIds[0]!;
  await cp.registerSubscription(attackerSub);
  const user = (role: string, subs: string[]) => cp.mintJwt('user', { roles: [role], hcs_subscriptions: subs });
  tokens.readerElsewhere = await user('HCS.Reader', [attackerSub]);
  tokens.operatorElsewhere = await user('HCS.Operator', [attackerSub]);
  tokens.adminElsewhere = await user('HCS.Admin', [attackerSub]);
  tokens.scopedOperatorElsewhere = cp.scopedToken(attackerSub);
  tokens.victimReader = await user('HCS.Reader', [victim.subscriptionId]);
  tokens.platformReader = cp.tokens.reader;
  before = await storeRows(cp, victim.subscriptionId);
});
afterAll(async () => {
  grpc?.close();
  await cp?.close();
});

const describeAnswer = (a: GrpcAnswer) => `${status[a.code] ?? a.code} ${a.details ?? ''}`;

describe.each(RPCS.map((r) => ({ rpc: `${r.service.name}.${r.method.name}`, ...r })))('$rpc', ({ service, method }) => {
  it('answers UNAUTHENTICATED without credentials', async () => {
    const a = await grpc.call(method, requestFor(method, victim), null);
    expect(a.code, describeAnswer(a)).toBe(status.UNAUTHENTICATED);
    expect(a.error?.code).toBe('AuthenticationFailed');
  });

  it.each([
    ['readerElsewhere', 'reader'],
    ['operatorElsewhere', 'operator'],
    ['adminElsewhere', 'admin'],
    ['scopedOperatorElsewhere', 'operator'],
  ])('refuses %s (role %s, another subscription) and gives no hint', async (caller, role) => {
    const token = tokens[caller]!;
    const real = await grpc.call(method, requestFor(method, victim), token);
    const expected = isNotification(service.typeName)
      ? status.PERMISSION_DENIED
      : role === 'reader' && !READER_RPCS.has(method.name)
        ? status.PERMISSION_DENIED
        : status.NOT_FOUND;
    expect(real.code, describeAnswer(real)).toBe(expected);
    // The victim's real resources and a subscription that never existed answer alike.
    const none = await grpc.call(method, requestFor(method, ghost), token);
    expect(none.code).toBe(real.code);
    const text = (a: GrpcAnswer, sub: string) => JSON.stringify(a.error).replaceAll(sub, '<subscription>');
    expect(text(none, ghost.subscriptionId)).toBe(text(real, victim.subscriptionId));
  });

  it.each(['victimReader', 'platformReader'])('refuses %s where the RPC needs more than a reader', async (caller) => {
    const a = await grpc.call(method, requestFor(method, victim), tokens[caller]!);
    if (isNotification(service.typeName) || !READER_RPCS.has(method.name)) {
      expect(a.code, describeAnswer(a)).toBe(status.PERMISSION_DENIED);
      expect(a.error?.code).toBe('AuthorizationFailed');
    } else {
      // The control: the same request is fine for a reader that may see the subscription.
      expect(a.code, describeAnswer(a)).toBe(status.OK);
    }
  });
});

it('lets the attacking callers into their own subscription (the refusals are about scope)', async () => {
  const list = RPCS.find((r) => r.method.name === 'ListClustersBySubscription')!.method;
  for (const caller of ['readerElsewhere', 'operatorElsewhere', 'adminElsewhere', 'scopedOperatorElsewhere']) {
    const a = await grpc.call(list, { subscriptionId: attackerSub }, tokens[caller]!);
    expect(a.code, `${caller}: ${describeAnswer(a)}`).toBe(status.OK);
  }
});

it("leaves every row of the victim's subscription as it was", async () => {
  const after = await storeRows(cp, victim.subscriptionId);
  expect(after).toEqual(before);
  expect(after.clusters).toHaveLength(1);
  expect(after.snapshots).toHaveLength(1);
  expect(after.subscriptions?.[0]).toContain('Registered');
});
