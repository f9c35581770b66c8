// Issue 11, item 7: a federation token joins one cluster, only for callers with operator rights
// on the primary's subscription or for the tenant it was issued for, until it expires or the
// primary's operators revoke it. Each attack goes through the real API (REST, and gRPC for
// reuse, another tenant and revocation) on the real stack with the stand-in workflows, gets the
// precise refusal, and the store shows that nothing was created: no cluster, no operation, and
// the token's record is as it was.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterService } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { getCluster } from '../../store/clusters.js';
import { getFederationToken } from '../../store/federation-tokens.js';
import { listOperations } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { grpc } from './grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState, type Reply } from './support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const TTL_SECONDS = 600;
const [tenantA, tenantB] = [randomUUID(), randomUUID()];
// subA holds the primary; subA2 is another subscription of tenant A; subB is another tenant's.
const [subA, subA2, subB] = [randomUUID(), randomUUID(), randomUUID()];
const primary = clusterPath(subA, 'rg-hq', 'hq-dc');
let cp: ControlPlane;
/** Customer operators (user tokens) of one subscription each. */
let opA: string;
let opA2: string;
let opB: string;
let readerA: string;
let cidr = 0;

const nextCidr = () => `10.${120 + cidr++}.0.0/16`;
const body = (datacenter: string, federationToken: string) => clusterBody(version, nextCidr(), { datacenter, federationToken });

beforeAll(async () => {
  cp = await startControlPlane(stack, { limits: { federationTokenTtlSeconds: TTL_SECONDS } });
  await cp.registerSubscription(subA, tenantA);
  await cp.registerSubscription(subA2, tenantA);
  await cp.registerSubscription(subB, tenantB);
  const operator = (sub: string, oid: string) => cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub], oid });
  [opA, opA2, opB] = await Promise.all([operator(subA, 'op-a'), operator(subA2, 'op-a2'), operator(subB, 'op-b')]);
  readerA = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [subA], oid: 'reader-a' });
  expect((await rest(cp, 'PUT', `${primary}?${V}`, { token: opA, body: clusterBody(version, '10.119.0.0/16') })).status).toBe(201);
  await waitForState(cp, primary, ['Succeeded']);
});
afterAll(async () => {
  await cp?.close();
});

interface Issued {
  federationToken: string;
  tokenId: string;
  expiresAt: string;
}

async function issue(token = opA, at = primary): Promise<Issued> {
  const res = await rest(cp, 'POST', `${at}/createFederationToken?${V}`, { token });
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return res.json as Issued;
}

/** The refusal's codes: the top-level one and every detail's. */
const codes = (r: Reply): string[] => [
  r.json.error.code as string,
  ...((r.json.error.details ?? []) as Array<{ code: string }>).map((d) => d.code),
];

/** Nothing of the refused cluster in the store: no record, no operation. */
async function expectNothingAt(path: string): Promise<void> {
  expect(await getCluster(cp.db, path.toLowerCase())).toBeUndefined();
  expect(await listOperations(cp.db, path.toLowerCase())).toEqual([]);
}

const grpcCreate = (sub: string, name: string, b: unknown, token: string) =>
  grpc(
    cp,
    ClusterService,
    'CreateOrReplaceCluster',
    { subscriptionId: sub, resourceGroup: 'rg-grpc', clusterName: name, cluster: b },
    token,
  );

it('hands out a token with the configured lifetime and stores only its id and metadata', async () => {
  const before = Date.now();
  const t = await issue();
  const lifetime = Date.parse(t.expiresAt) - before;
  expect(lifetime).toBeGreaterThan((TTL_SECONDS - 30) * 1000);
  expect(lifetime).toBeLessThanOrEqual((TTL_SECONDS + 30) * 1000);
  const { rows } = await cp.db.query('SELECT * FROM federation_tokens WHERE token_id = $1', [t.tokenId]);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ primary_key: primary.toLowerCase(), issued_to_tenant: tenantA, consumed_at: null, revoked_at: null });
  expect(JSON.stringify(rows)).not.toContain(t.federationToken.slice(-40));
  expect((await rest(cp, 'POST', `${primary}/createFederationToken?${V}`, { token: readerA })).status).toBe(403);
});

describe('reuse', () => {
  it('a used token is refused on REST and gRPC; nothing is created', async () => {
    const t = await issue();
    const first = clusterPath(subA, 'rg-sec', 'secondary-1');
    const created = await rest(cp, 'PUT', `${first}?${V}`, { token: opA, body: body('dc2', t.federationToken) });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    expect((await getFederationToken(cp.db, t.tokenId))?.state).toBe('consumed');

    const again = clusterPath(subA, 'rg-sec', 'secondary-2');
    const reused = await rest(cp, 'PUT', `${again}?${V}`, { token: opA, body: body('dc3', t.federationToken) });
    expect(reused.status).toBe(400);
    expect(reused.json.error).toMatchObject({ code: 'FederationTokenAlreadyUsed', target: 'properties.federationToken' });
    await expectNothingAt(again);

    const viaGrpc = await grpcCreate(subA, 'secondary-grpc', body('dc4', t.federationToken), opA);
    expect(viaGrpc.code).toBe(3); // INVALID_ARGUMENT
    expect(viaGrpc.details).toContain('FederationTokenAlreadyUsed');
    await expectNothingAt(clusterPath(subA, 'rg-grpc', 'secondary-grpc'));
    await waitForState(cp, first, ['Succeeded']);
  });

  it('two concurrent creates with one token: exactly one joins, the other is refused and leaves nothing', async () => {
    const t = await issue();
    const racers = [clusterPath(subA, 'rg-race', 'racer-a'), clusterPath(subA, 'rg-race', 'racer-b')];
    const answers = await Promise.all(
      racers.map((p, i) => rest(cp, 'PUT', `${p}?${V}`, { token: opA, body: body(`dc-race-${i}`, t.federationToken) })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 400]);
    const loser = answers.findIndex((a) => a.status === 400);
    expect(codes(answers[loser]!)).toContain('FederationTokenAlreadyUsed');
    await expectNothingAt(racers[loser]!);
    await waitForState(cp, racers[1 - loser]!, ['Succeeded']);
  });
});

describe('another tenant', () => {
  it("another tenant's operator cannot use the token (403, no hint of the primary) on REST or gRPC; nothing is created", async () => {
    const t = await issue();
    const target = clusterPath(subB, 'rg-b', 'hijack');
    const refused = await rest(cp, 'PUT', `${target}?${V}`, { token: opB, body: body('dc-b', t.federationToken) });
    expect(refused.status).toBe(403);
    expect(refused.json.error.code).toBe('FederationTokenNotAllowed');
    const text = JSON.stringify(refused.json).toLowerCase();
    for (const secret of [subA, 'hq-dc', 'rg-hq', tenantA]) expect(text).not.toContain(secret.toLowerCase());
    await expectNothingAt(target);

    const viaGrpc = await grpcCreate(subB, 'hijack-grpc', body('dc-b2', t.federationToken), opB);
    expect(viaGrpc.code).toBe(7); // PERMISSION_DENIED
    expect(viaGrpc.details).toContain('FederationTokenNotAllowed');
    await expectNothingAt(clusterPath(subB, 'rg-grpc', 'hijack-grpc'));

    // ARM acts for every subscription, but not for the primary's rights in another tenant.
    const viaArm = await rest(cp, 'PUT', `${target}?${V}`, { token: await cp.mintJwt('arm'), body: body('dc-b3', t.federationToken) });
    expect(viaArm.status).toBe(403);
    expect(viaArm.json.error.code).toBe('FederationTokenNotAllowed');
    await expectNothingAt(target);

    // A caller outside the subscription it writes to learns nothing at all (404).
    const outsider = await rest(cp, 'PUT', `${target}?${V}`, { token: opA, body: body('dc-b4', t.federationToken) });
    expect(outsider.status).toBe(404);
    await expectNothingAt(target);

    // None of it used the token: the tenant it was issued for (another subscription of tenant A,
    // whose operator cannot see the primary) still can.
    expect((await getFederationToken(cp.db, t.tokenId))?.state).toBe('outstanding');
    const sameTenant = clusterPath(subA2, 'rg-a2', 'joined');
    const joined = await rest(cp, 'PUT', `${sameTenant}?${V}`, { token: opA2, body: body('dc-a2', t.federationToken) });
    expect(joined.status, JSON.stringify(joined.json)).toBe(201);
    expect(joined.json.properties.primaryClusterId).toBe(primary);
    await waitForState(cp, sameTenant, ['Succeeded']);
  });
});

describe('expired', () => {
  it('an expired token is refused; nothing is created and the record stays unused', async () => {
    const t = await issue();
    // Compress time: the record's expiry (the API checks the database's clock) one second ago.
    await cp.db.query(`UPDATE federation_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1`, [t.tokenId]);
    const target = clusterPath(subA, 'rg-exp', 'late');
    const refused = await rest(cp, 'PUT', `${target}?${V}`, { token: opA, body: body('dc-late', t.federationToken) });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'FederationTokenExpired', target: 'properties.federationToken' });
    await expectNothingAt(target);
    expect((await getFederationToken(cp.db, t.tokenId))?.state).toBe('expired');
  });
});

describe('revoked', () => {
  it('the primary revokes one token by id (REST) and all outstanding ones (gRPC); each is refused, nothing is created', async () => {
    const [one, two, three] = [await issue(), await issue(), await issue()];
    // Only the primary's operators: a reader is refused, another tenant does not see the primary.
    expect((await rest(cp, 'POST', `${primary}/revokeFederationTokens?${V}`, { token: readerA, body: {} })).status).toBe(403);
    expect((await rest(cp, 'POST', `${primary}/revokeFederationTokens?${V}`, { token: opB, body: {} })).status).toBe(404);
    expect((await getFederationToken(cp.db, one.tokenId))?.state).toBe('outstanding');

    const byId = await rest(cp, 'POST', `${primary}/revokeFederationTokens?${V}`, { token: opA, body: { tokenId: one.tokenId } });
    expect(byId.status, JSON.stringify(byId.json)).toBe(200);
    expect(byId.json.revokedTokenIds).toEqual([one.tokenId]);
    expect((await getFederationToken(cp.db, two.tokenId))?.state).toBe('outstanding');
    const target = clusterPath(subA, 'rg-rev', 'revoked');
    const refused = await rest(cp, 'PUT', `${target}?${V}`, { token: opA, body: body('dc-rev', one.federationToken) });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'FederationTokenRevoked', target: 'properties.federationToken' });
    await expectNothingAt(target);

    const all = await grpc(
      cp,
      ClusterService,
      'RevokeFederationTokens',
      { subscriptionId: subA, resourceGroup: 'rg-hq', clusterName: 'hq-dc' },
      opA,
    );
    expect(all.code, all.details).toBe(0);
    expect(all.response.revokedTokenIds).toEqual(expect.arrayContaining([two.tokenId, three.tokenId]));
    expect(all.response.revokedTokenIds).not.toContain(one.tokenId);
    for (const t of [two, three]) {
      const r = await rest(cp, 'PUT', `${target}?${V}`, { token: opA, body: body('dc-rev', t.federationToken) });
      expect(r.status).toBe(400);
      expect(r.json.error.code).toBe('FederationTokenRevoked');
    }
    await expectNothingAt(target);

    // An id the primary never issued is 404.
    const unknown = await rest(cp, 'POST', `${primary}/revokeFederationTokens?${V}`, { token: opA, body: { tokenId: randomUUID() } });
    expect(unknown.status).toBe(404);
  });
});

describe('a primary deleted and created again', () => {
  it('does not honour the tokens of its namesake; nothing is created', async () => {
    const old = clusterPath(subA, 'rg-phoenix', 'phoenix');
    expect((await rest(cp, 'PUT', `${old}?${V}`, { token: opA, body: clusterBody(version, nextCidr()) })).status).toBe(201);
    await waitForState(cp, old, ['Succeeded']);
    const t = await issue(opA, old);
    expect((await rest(cp, 'DELETE', `${old}?${V}`, { token: opA })).status).toBe(202);
    for (const end = Date.now() + 30_000; (await getCluster(cp.db, old.toLowerCase())) && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 100));
    expect(await getCluster(cp.db, old.toLowerCase())).toBeUndefined();
    expect((await rest(cp, 'PUT', `${old}?${V}`, { token: opA, body: clusterBody(version, nextCidr()) })).status).toBe(201);
    await waitForState(cp, old, ['Succeeded']);

    const target = clusterPath(subA, 'rg-phoenix', 'follower');
    const refused = await rest(cp, 'PUT', `${target}?${V}`, { token: opA, body: body('dc-phoenix', t.federationToken) });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'PrimaryClusterNotFound', target: 'properties.federationToken' });
    await expectNothingAt(target);
  });
});
