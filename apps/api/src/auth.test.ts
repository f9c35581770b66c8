// The verified-token cache on a controlled clock: how long an entry lives (its TTL, never past
// the token's exp plus the skew), its bound in entries, and that the authenticator keys it by the
// whole token. The attacks through the real API are in test/security/verified-token-cache.test.ts.
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAuthenticator, VerifiedTokenCache, VERIFIED_TOKEN_TTL_MS } from './auth.js';
import type { Caller } from './context.js';

const reader = (subscriptions: string[]): Caller => ({ subject: 'user:x', kind: 'user', role: 'reader', subscriptions });

describe('VerifiedTokenCache', () => {
  it('serves an entry until its TTL and not from then on', () => {
    let now = 1_000_000;
    const cache = new VerifiedTokenCache(60_000, () => now);
    cache.set('k', reader(['s']), now / 1000 + 3600);
    now += 59_999;
    expect(cache.get('k')?.subscriptions).toEqual(['s']);
    now += 1;
    expect(cache.get('k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("never serves an entry past the token's exp plus the 60 s skew, and keeps none for a token already past it", () => {
    let now = 1_000_000;
    const cache = new VerifiedTokenCache(60_000, () => now);
    cache.set('k', reader(['s']), now / 1000 - 30); // accepted by jwtVerify for 30 s more
    now += 29_999;
    expect(cache.get('k')).toBeDefined();
    now += 1;
    expect(cache.get('k')).toBeUndefined();
    cache.set('late', reader(['s']), now / 1000 - 60);
    expect(cache.size).toBe(0);
  });

  it('holds at most its bound, dropping the oldest, and hands out frozen callers', () => {
    const cache = new VerifiedTokenCache(60_000, () => 0, 2);
    const a = cache.set('a', reader(['a']), 3600);
    cache.set('b', reader(['b']), 3600);
    cache.set('c', reader(['c']), 3600);
    expect([cache.get('a'), cache.get('b')?.subscriptions, cache.get('c')?.subscriptions]).toEqual([undefined, ['b'], ['c']]);
    expect(Object.isFrozen(a) && Object.isFrozen(a.subscriptions)).toBe(true);
    expect(() => (a.subscriptions as string[]).push('other')).toThrow(TypeError);
  });
});

describe('the authenticator with the cache', () => {
  async function setup() {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    let now = Date.UTC(2026, 0, 1);
    const authenticate = createAuthenticator(
      {
        armCertificateThumbprints: [],
        operatorTokens: [],
        jwtIssuers: [{ issuer: 'https://iss.test/', audience: 'aud', kind: 'user', jwks: { keys: [jwk] } }],
      },
      { now: () => now },
    );
    const mint = (subs: string[], exp: number) =>
      new SignJWT({ roles: ['HCS.Reader'], hcs_subscriptions: subs })
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('https://iss.test/')
        .setAudience('aud')
        .setSubject('same-person')
        .setExpirationTime(exp)
        .sign(privateKey);
    const as = (token: string) => authenticate({ authorization: `Bearer ${token}` });
    return { as, mint, clock: { get: () => now, advance: (ms: number) => (now += ms) } };
  }

  it('gives each token its own caller: two tenants of the same subject never share an entry', async () => {
    const { as, mint, clock } = await setup();
    const exp = clock.get() / 1000 + 3600;
    const a = await mint(['sub-a'], exp);
    const b = await mint(['sub-b'], exp);
    for (let i = 0; i < 2; i++) {
      expect((await as(a)).subscriptions).toEqual(['sub-a']);
      expect((await as(b)).subscriptions).toEqual(['sub-b']);
    }
    const flipped = `${a.slice(0, -2)}${a.at(-2) === 'A' ? 'B' : 'A'}${a.at(-1)}`;
    await expect(as(flipped)).rejects.toMatchObject({ httpStatus: 401 });
  });

  it('refuses a remembered token once exp plus the skew has passed, within the TTL', async () => {
    const { as, mint, clock } = await setup();
    const token = await mint(['sub-a'], clock.get() / 1000 - 30);
    expect((await as(token)).subscriptions).toEqual(['sub-a']);
    clock.advance(29_000);
    expect((await as(token)).subscriptions).toEqual(['sub-a']);
    clock.advance(1_001);
    expect(30_001).toBeLessThan(VERIFIED_TOKEN_TTL_MS);
    await expect(as(token)).rejects.toMatchObject({ httpStatus: 401, message: expect.stringMatching(/exp/) });
  });
});
