// Issue 11, item 2: ARM's tokens give full access, so a token that merely looks like ARM's must
// not. Attacks against the real API, each aimed at what only ARM may do (a subscription's state):
// a token without exp, a token ARM's tenant issued to another application, an HS256 token "signed"
// with the issuer's public key, a token not yet valid, and two issuers sharing one iss with
// different audiences (a user token must not be read with the ARM issuer's rules, or the reverse).
import { createPublicKey, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getSubscription } from '../../store/subscriptions.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { rest } from './support.js';

const stack = inject('stack');
const ISS = 'https://sts.test.hcs/tenant-arm/';
const ARM_AUD = 'https://management.arm.test';
const USER_AUD = 'https://portal.hcs.test';
const ARM_APP = 'b0b0b0b0-0000-4000-8000-000000000a2a';
type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let cp: ControlPlane;
let armKey: { privateKey: Key; publicKey: Key; publicPem: string };
let userKey: { privateKey: Key; publicKey: Key };
const victim = randomUUID();

beforeAll(async () => {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const publicPem = createPublicKey({ key: (await exportJWK(rsa.publicKey)) as never, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  });
  armKey = { ...rsa, publicPem: String(publicPem) };
  userKey = await generateKeyPair('ES256');
  const jwk = async (k: Key, kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });
  const armJwk = await jwk(armKey.publicKey, 'arm-rsa', 'RS256');
  const userJwk = await jwk(userKey.publicKey, 'user-ec', 'ES256');
  cp = await startControlPlane(stack, {
    auth: (base) => ({
      ...base,
      // One issuer, two audiences: the user audience listed first, so choosing by iss alone
      // would pick it for ARM's tokens too.
      jwtIssuers: [
        ...base.jwtIssuers,
        { issuer: ISS, audience: USER_AUD, kind: 'user', jwks: { keys: [userJwk] } },
        { issuer: ISS, audience: ARM_AUD, kind: 'arm', applicationIds: [ARM_APP], algorithms: ['RS256'], jwks: { keys: [armJwk] } },
      ],
    }),
  });
  await cp.registerSubscription(victim);
});
afterAll(async () => {
  await cp?.close();
});

interface Mint {
  aud?: string;
  claims?: Record<string, unknown>;
  /** null: no exp at all; a number: seconds since the epoch. */
  exp?: string | number | null;
  nbf?: string;
  /** Signed with this key (default ARM's RSA key); a Uint8Array signs with HMAC. */
  key?: Key | Uint8Array;
  alg?: string;
  kid?: string;
}

async function mint(o: Mint = {}): Promise<string> {
  let jwt = new SignJWT({ appid: ARM_APP, ...o.claims })
    .setProtectedHeader({ alg: o.alg ?? 'RS256', kid: o.kid ?? 'arm-rsa' })
    .setIssuer(ISS)
    .setAudience(o.aud ?? ARM_AUD)
    .setSubject('caller')
    .setIssuedAt(typeof o.exp === 'number' ? o.exp - 3600 : undefined);
  if (o.exp !== null) jwt = jwt.setExpirationTime(o.exp ?? '10m');
  if (o.nbf) jwt = jwt.setNotBefore(o.nbf);
  return jwt.sign(o.key ?? armKey.privateKey);
}

/** What only ARM may do: set a subscription's state. */
const markDeleted = (token: string) => rest(cp, 'PUT', `/subscriptions/${victim}?api-version=2.0`, { token, body: { state: 'Deleted' } });

describe('ARM tokens', () => {
  it('a genuine ARM token (right issuer, audience, application, algorithm, exp) is ARM', async () => {
    const other = randomUUID();
    const r = await rest(cp, 'PUT', `/subscriptions/${other}?api-version=2.0`, { token: await mint(), body: { state: 'Registered' } });
    expect(r.status).toBe(200);
    expect((await getSubscription(cp.db, other))?.state).toBe('Registered');
  });

  it('refuses a token without exp', async () => {
    const r = await markDeleted(await mint({ exp: null }));
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/exp/);
  });

  it("refuses a token of another application in ARM's tenant (appid, azp or none)", async () => {
    expect((await markDeleted(await mint({ claims: { appid: randomUUID() } }))).status).toBe(401);
    const r = await markDeleted(await mint({ claims: { appid: undefined, azp: randomUUID() } }));
    expect(r.status).toBe(401);
    expect(r.json.error.message).toMatch(/application/);
    const none = await mint({ claims: { appid: undefined } });
    expect((await markDeleted(none)).status).toBe(401);
  });

  it('refuses HS256 "signed" with the issuer\'s public key, and alg none', async () => {
    const secret = new TextEncoder().encode(armKey.publicPem);
    const hs = await mint({ alg: 'HS256', key: secret });
    expect((await markDeleted(hs)).status).toBe(401);
    const [, payload] = (await mint()).split('.');
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
    expect((await markDeleted(unsigned)).status).toBe(401);
  });

  it('honours nbf (with the skew) and exp', async () => {
    expect((await markDeleted(await mint({ nbf: '10m' }))).status).toBe(401);
    const expired = await mint({ exp: Math.floor(Date.now() / 1000) - 120 });
    expect((await markDeleted(expired)).status).toBe(401);
  });

  it("chooses the issuer by iss and aud together: a user token is never read with ARM's rules, nor the reverse", async () => {
    // A user token of the shared iss (user audience), with admin claims: a user, not ARM.
    const userToken = await mint({
      aud: USER_AUD,
      key: userKey.privateKey,
      alg: 'ES256',
      kid: 'user-ec',
      claims: { roles: ['HCS.Admin'] },
    });
    const asUser = await markDeleted(userToken);
    expect(asUser.status).toBe(403);
    // The user issuer's key signing a token for ARM's audience: ARM's keys do not verify it.
    const forged = await mint({ aud: ARM_AUD, key: userKey.privateKey, alg: 'ES256', kid: 'user-ec' });
    expect((await markDeleted(forged)).status).toBe(401);
    // A token for an audience nobody configured under this iss.
    expect((await markDeleted(await mint({ aud: 'https://elsewhere.test' }))).status).toBe(401);
  });

  it('after every attack the victim subscription is still Registered', async () => {
    expect((await getSubscription(cp.db, victim))?.state).toBe('Registered');
  });
});
