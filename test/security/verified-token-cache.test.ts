// The API remembers verified JWTs (apps/api/src/auth.ts VerifiedTokenCache) so a GET does not
// check the signature again. Attacks on that memory, against the real API on the real database:
// a tenant's token, once remembered, must not open another tenant's subscription, nor may another
// tenant's token find its entry; a token changed in any byte, or the same claims signed with a
// key the issuer never published, is verified afresh and refused; and a remembered token stops
// working when its exp (plus the allowed skew) passes, whatever the cache's own lifetime.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V } from './support.js';

const stack = inject('stack');
const ISS = 'https://sts.test.hcs/cache-tenant/';
const AUD = 'https://portal.cache.test';
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let cp: ControlPlane;
let issuerKey: Key;
let strangerKey: Key;
const tenantA = randomUUID();
const tenantB = randomUUID();
const pathA = clusterPath(tenantA, 'rg-cache', 'a-cluster');
const pathB = clusterPath(tenantB, 'rg-cache', 'b-cluster');

beforeAll(async () => {
  const issuer = await generateKeyPair('ES256');
  issuerKey = issuer.privateKey;
  strangerKey = (await generateKeyPair('ES256')).privateKey;
  const jwk = { ...(await exportJWK(issuer.publicKey)), kid: 'cache-1', alg: 'ES256', use: 'sig' };
  cp = await startControlPlane(stack, {
    auth: (base) => ({ ...base, jwtIssuers: [...base.jwtIssuers, { issuer: ISS, audience: AUD, kind: 'user', jwks: { keys: [jwk] } }] }),
  });
  const version = stack.tools.consulVersions.at(-1)!;
  for (const [sub, path, cidr] of [
    [tenantA, pathA, '10.71.0.0/16'],
    [tenantB, pathB, '10.72.0.0/16'],
  ] as const) {
    await cp.registerSubscription(sub);
    const put = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(version, cidr) });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
  }
});
afterAll(async () => {
  await cp?.close();
});

/** A reader token of one tenant (hcs_subscriptions), signed by the issuer unless another key is given. */
function mint(subscriptions: string[], o: { exp?: number; key?: Key; subject?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: ['HCS.Reader'], hcs_subscriptions: subscriptions })
    .setProtectedHeader({ alg: 'ES256', kid: 'cache-1' })
    .setIssuer(ISS)
    .setAudience(AUD)
    .setSubject(o.subject ?? 'same-person')
    .setIssuedAt(now - 120)
    .setExpirationTime(o.exp ?? now + 600)
    .sign(o.key ?? issuerKey);
}

const get = (path: string, token: string) => rest(cp, 'GET', `${path}?${V}`, { token });

describe('the verified-token cache', () => {
  it("keeps tenants apart: a remembered token opens its own subscription only, and the other tenant's token finds no entry of it", async () => {
    // The same subject in both tenants: only the token string may key the entry.
    const a = await mint([tenantA]);
    const b = await mint([tenantB]);
    for (let i = 0; i < 3; i++) {
      expect((await get(pathA, a)).status).toBe(200);
      expect((await get(pathB, b)).status).toBe(200);
      // Each is answered as a missing resource (a scoped caller learns nothing of others).
      expect((await get(pathB, a)).status).toBe(404);
      expect((await get(pathA, b)).status).toBe(404);
    }
    const list = await rest(cp, 'GET', `/subscriptions/${tenantB}/providers/HCS.Consul/clusters?${V}`, { token: a });
    expect(list.status).toBe(404);
  });

  it('refuses a remembered token changed in any byte, and its claims signed with a key the issuer never published', async () => {
    const a = await mint([tenantA]);
    expect((await get(pathA, a)).status).toBe(200);
    const [header, payload, signature] = a.split('.') as [string, string, string];
    const flipped = signature.slice(0, -2) + (signature.at(-2) === 'A' ? 'B' : 'A') + signature.at(-1)!;
    expect((await get(pathA, `${header}.${payload}.${flipped}`)).status).toBe(401);
    // The remembered payload, widened to tenant B, re-signed by a stranger under the issuer's kid.
    const widened = await mint([tenantA, tenantB], { key: strangerKey });
    expect((await get(pathB, widened)).status).toBe(401);
    expect((await get(pathA, widened)).status).toBe(401);
    // An unsigned copy of the remembered payload.
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'cache-1' })).toString('base64url')}.${payload}.`;
    expect((await get(pathA, none)).status).toBe(401);
    // The genuine token still works.
    expect((await get(pathA, a)).status).toBe(200);
  });

  it('stops a remembered token once its exp and the allowed skew have passed', async () => {
    // Expired 55 s ago: accepted for 5 more seconds (the 60 s skew), remembered no longer than that.
    const token = await mint([tenantA], { exp: Math.floor(Date.now() / 1000) - 55 });
    const first = await get(pathA, token);
    expect(first.status).toBe(200);
    await new Promise((r) => setTimeout(r, 6_500));
    const after = await get(pathA, token);
    expect(after.status).toBe(401);
    expect(after.json.error.message).toMatch(/exp/);
  });
});
