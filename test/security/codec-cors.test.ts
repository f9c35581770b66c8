// Issue 14, item 7: the Temporal UI calls /codec from its own origin in the SRE's browser. Only
// the configured UI origins get CORS headers, only on /codec; credentials are still required (a
// bearer token, or the codec session cookie an SRE gets at /codec/session), and a request that
// authenticates by that cookie must come from a UI origin. The API is built in-process on an
// in-memory PGlite store and driven with fastify's inject(); no Temporal is involved.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiOptions } from '../../apps/api/src/api.js';
import { inMemoryApi, type InMemoryApi } from '../support/in-memory-api.js';
import { CODEC_SESSION_COOKIE } from '../../apps/api/src/rest/codec-routes.js';
import { apiEnvSchema } from '../../apps/control-plane/src/api-config.js';

const UI = 'http://127.0.0.1:8233';
const ATTACKER = 'https://attacker.example';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = JSON.stringify({ clusterId: 'victim-cluster', consulVersion: '1.22.7' });
const plainPayload = { metadata: { encoding: b64('json/plain') }, data: b64(secret) };

let memory: InMemoryApi<'sre' | 'reader'> | undefined;
let tokens: Record<'sre' | 'reader', string>;
let api: InMemoryApi['built']['rest'];
let sealed: { metadata: Record<string, string>; data: string };

beforeAll(async () => {
  const starter: ApiOptions['starter'] = {
    start: async () => {},
    cancel: async () => {},
    find: async () => 'absent',
    ping: async () => {},
    close: async () => {},
  };
  memory = await inMemoryApi({
    starter,
    tokens: [
      { name: 'sre', role: 'operator', subscriptions: '*' },
      { name: 'reader', role: 'reader', subscriptions: '*' },
    ],
    options: { codecCorsOrigins: [UI] },
  });
  ({ tokens } = memory);
  api = memory.built.rest;
  const enc = await api.inject({
    method: 'POST',
    url: '/codec/encode',
    headers: { authorization: `Bearer ${tokens.sre}` },
    payload: { payloads: [plainPayload] },
  });
  expect(enc.statusCode).toBe(200);
  sealed = enc.json().payloads[0];
  expect(Buffer.from(sealed.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
}, 120_000);
afterAll(async () => {
  await memory?.close();
});

const preflight = (origin: string, url = '/codec/decode') =>
  api.inject({
    method: 'OPTIONS',
    url,
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
  });
const decode = (headers: Record<string, string>, payloads: unknown[] = [sealed]) =>
  api.inject({ method: 'POST', url: '/codec/decode', headers: { 'content-type': 'application/json', ...headers }, payload: { payloads } });
const corsHeaders = (h: Record<string, unknown>) => Object.keys(h).filter((k) => k.startsWith('access-control-'));

describe('CORS on /codec', () => {
  it('answers the UI origin’s preflight with that origin, credentials, POST and the headers the UI sends', async () => {
    const r = await preflight(UI);
    expect(r.statusCode).toBe(204);
    expect(r.headers['access-control-allow-origin']).toBe(UI);
    expect(r.headers['access-control-allow-credentials']).toBe('true');
    expect(String(r.headers['access-control-allow-methods'])).toBe('POST');
    expect(String(r.headers['access-control-allow-headers']).toLowerCase().split(/,\s*/)).toEqual(
      expect.arrayContaining(['content-type', 'authorization', 'x-namespace']),
    );
    expect(String(r.headers.vary)).toMatch(/origin/i);
  });

  it('gives any other origin no CORS header, on preflight and on the request itself', async () => {
    for (const origin of [ATTACKER, 'http://127.0.0.1:8234', 'https://127.0.0.1:8233', 'null']) {
      const p = await preflight(origin);
      expect(corsHeaders(p.headers), origin).toEqual([]);
      expect(p.statusCode, origin).not.toBe(204);
      const r = await decode({ origin, authorization: `Bearer ${tokens.sre}` });
      // A non-browser client with a token may decode; a browser page on that origin cannot read the answer.
      expect(r.statusCode, origin).toBe(200);
      expect(corsHeaders(r.headers), origin).toEqual([]);
    }
  });

  it('answers CORS on /codec only, not on the rest of the API', async () => {
    for (const url of ['/healthz', '/providers/HCS.Consul/operations?api-version=2026-11-01', '/openapi.json']) {
      const p = await preflight(UI, url);
      expect(corsHeaders(p.headers), url).toEqual([]);
      const r = await api.inject({ method: 'GET', url, headers: { origin: UI, authorization: `Bearer ${tokens.sre}` } });
      expect(corsHeaders(r.headers), url).toEqual([]);
    }
  });

  it('still requires an SRE: no credentials is 401, a reader is 403, and neither sees the payload', async () => {
    const none = await decode({ origin: UI });
    expect(none.statusCode).toBe(401);
    // The UI can read the refusal (and show it) because the origin is allowed.
    expect(none.headers['access-control-allow-origin']).toBe(UI);
    const reader = await decode({ origin: UI, authorization: `Bearer ${tokens.reader}` });
    expect(reader.statusCode).toBe(403);
    for (const r of [none, reader]) expect(r.body).not.toContain(plainPayload.data);
    const ok = await decode({ origin: UI, authorization: `Bearer ${tokens.sre}` });
    expect(ok.statusCode).toBe(200);
    expect(ok.json().payloads[0].data).toBe(plainPayload.data);
  });
});

describe('the codec session for browsers', () => {
  const signIn = (token: string) =>
    api.inject({
      method: 'POST',
      url: '/codec/session',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token }).toString(),
    });

  it('serves a sign-in form that posts the token to /codec/session', async () => {
    const r = await api.inject({ method: 'GET', url: '/codec/session' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toContain('action="/codec/session"');
    expect(r.body).toContain('type="password" name="token"');
  });

  it('sets no cookie for a missing, unknown or non-SRE token', async () => {
    const cases: Array<[string, number]> = [
      ['', 400],
      ['two words', 400],
      [`hcsop_unknown_${randomBytes(8).toString('hex')}`, 401],
      [tokens.reader, 403],
    ];
    for (const [token, status] of cases) {
      const r = await signIn(token);
      expect(r.statusCode, token).toBe(status);
      expect(r.headers['set-cookie'], token).toBeUndefined();
    }
  });

  it('keeps an SRE’s token as an HttpOnly, Secure cookie scoped to /codec, used only from the UI origin', async () => {
    const r = await signIn(tokens.sre);
    expect(r.statusCode).toBe(200);
    const cookie = String(r.headers['set-cookie']);
    expect(cookie).toMatch(new RegExp(`^${CODEC_SESSION_COOKIE}=`));
    for (const attr of ['Path=/codec', 'HttpOnly', 'Secure', 'SameSite=None']) expect(cookie).toContain(attr);
    const jar = cookie.split(';')[0]!;

    const fromUi = await decode({ origin: UI, cookie: jar });
    expect(fromUi.statusCode).toBe(200);
    expect(fromUi.json().payloads[0].data).toBe(plainPayload.data);
    expect(fromUi.headers['access-control-allow-origin']).toBe(UI);

    // A page elsewhere (or a request with no Origin) riding on the cookie gets nothing.
    for (const headers of [{ origin: ATTACKER, cookie: jar }, { cookie: jar }] as Array<Record<string, string>>) {
      const r2 = await decode(headers);
      expect(r2.statusCode).toBe(403);
      expect(r2.json().error.message).toContain('HCS_CODEC_CORS_ORIGINS');
      expect(r2.body).not.toContain(plainPayload.data);
    }
    // A cookie holding a reader's token is no better than the token.
    const readerJar = `${CODEC_SESSION_COOKIE}=${encodeURIComponent(tokens.reader)}`;
    expect((await decode({ origin: UI, cookie: readerJar })).statusCode).toBe(403);

    const out = await api.inject({ method: 'DELETE', url: '/codec/session', headers: { cookie: jar } });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers['set-cookie'])).toMatch(new RegExp(`^${CODEC_SESSION_COOKIE}=;.*Max-Age=0`));
  });

  it('decodes what this control plane encrypted and returns a payload in clear as it came, for a session too', async () => {
    const r = await signIn(tokens.sre);
    const jar = String(r.headers['set-cookie']).split(';')[0]!;
    const mixed = await decode({ origin: UI, cookie: jar }, [sealed, plainPayload]);
    expect(mixed.statusCode).toBe(200);
    const [opened, clear] = mixed.json().payloads as Array<{ metadata: Record<string, string>; data: string }>;
    expect(opened!.data).toBe(plainPayload.data);
    expect(clear).toEqual(plainPayload);
  });
});

describe('HCS_CODEC_CORS_ORIGINS', () => {
  const parse = (v: string | undefined) => apiEnvSchema.shape.HCS_CODEC_CORS_ORIGINS.safeParse(v);
  it('reads comma-separated origins, none by default', () => {
    expect(parse(undefined).data).toEqual([]);
    expect(parse(' http://127.0.0.1:8233 , https://ui.hcs.example ').data).toEqual(['http://127.0.0.1:8233', 'https://ui.hcs.example']);
  });
  it('refuses anything that is not exactly an origin, naming it', () => {
    for (const v of ['127.0.0.1:8233', 'http://127.0.0.1:8233/', 'https://ui.hcs.example/path', 'http://ui.hcs.example,*']) {
      const r = parse(v);
      expect(r.success, v).toBe(false);
      expect(r.error?.issues[0]?.message, v).toMatch(/is not an origin/);
    }
  });
});
