// Issue 11, item 5 (codec): workflow payloads span every tenant, so /codec/encode and
// /codec/decode answer only SREs (an operator token scoped to every subscription, or the HCS.SRE
// role) - never a customer's operator or admin, never ARM; decode opens what our codec encrypted,
// returns payloads in clear unchanged and refuses a forged ciphertext.
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { useControlPlane } from '../support/control-plane-fixture.js';
import { rest } from './support.js';

const stack = inject('stack');
const cp = useControlPlane(stack);

const b64 = (s: string) => Buffer.from(s).toString('base64');
const plainPayload = { metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify({ subscriptionId: 'victim' })) };

describe('the codec endpoint', () => {
  it('refuses every principal but SREs, for encode and decode', async () => {
    const sub = randomUUID();
    const encrypted = await rest(cp, 'POST', '/codec/encode', { token: cp.tokens.operator, body: { payloads: [plainPayload] } });
    expect(encrypted.status).toBe(200);
    const sealed = encrypted.json.payloads[0];
    expect(Buffer.from(sealed.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');

    const refused: Array<[string, { token?: string | null; clientCert?: { cert: string; key: string } }]> = [
      ['customer operator', { token: await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub] }) }],
      ['customer admin', { token: await cp.mintJwt('user', { roles: ['HCS.Admin'], hcs_subscriptions: [sub] }) }],
      ['ARM token', { token: await cp.mintJwt('arm') }],
      ['ARM certificate', { token: null, clientCert: cp.clientCerts.arm }],
      ['operator token scoped to one subscription', { token: cp.scopedToken(cp.scopedSubscriptionIds[0]!) }],
      ['all-subscription reader token', { token: cp.tokens.reader }],
    ];
    for (const [who, auth] of refused) {
      for (const op of ['encode', 'decode']) {
        const r = await rest(cp, 'POST', `/codec/${op}`, { ...auth, body: { payloads: [op === 'decode' ? sealed : plainPayload] } });
        expect(r.status, `${who} ${op}`).toBe(403);
        expect(JSON.stringify(r.json)).not.toContain(b64(JSON.stringify({ subscriptionId: 'victim' })));
      }
    }
    expect((await rest(cp, 'POST', '/codec/decode', { token: null, body: { payloads: [sealed] } })).status).toBe(401);

    for (const token of [cp.tokens.operator, cp.tokens.admin, await cp.mintJwt('user', { roles: ['HCS.SRE'] })]) {
      const r = await rest(cp, 'POST', '/codec/decode', { token, body: { payloads: [sealed] } });
      expect(r.status).toBe(200);
      expect(r.json.payloads[0].data).toBe(plainPayload.data);
    }
  });

  it('decode opens what it encrypted and returns a payload in clear unchanged, as the CLI and the UI expect', async () => {
    const sealed = (await rest(cp, 'POST', '/codec/encode', { token: cp.tokens.admin, body: { payloads: [plainPayload] } })).json
      .payloads[0];
    const r = await rest(cp, 'POST', '/codec/decode', { token: cp.tokens.admin, body: { payloads: [sealed, plainPayload] } });
    expect(r.status).toBe(200);
    expect(r.json.payloads).toEqual([plainPayload, plainPayload]);
  });

  it('takes {} as no payloads (protobuf JSON leaves an empty list out) and refuses a body that is not a payload list', async () => {
    for (const op of ['encode', 'decode']) {
      const empty = await rest(cp, 'POST', `/codec/${op}`, { token: cp.tokens.admin, body: {} });
      expect(empty.status, op).toBe(200);
      expect(empty.json).toEqual({ payloads: [] });
      for (const body of [{ payloads: 'x' }, [plainPayload], { payloads: { 0: plainPayload } }]) {
        const bad = await rest(cp, 'POST', `/codec/${op}`, { token: cp.tokens.admin, body });
        expect(bad.status, `${op} ${JSON.stringify(body)}`).toBe(400);
        expect(bad.json.error.code).toBe('InvalidRequestContent');
      }
    }
  });

  it('decode refuses a payload that claims our encryption but is not ours, and returns nothing of the batch', async () => {
    const sealed = (await rest(cp, 'POST', '/codec/encode', { token: cp.tokens.admin, body: { payloads: [plainPayload] } })).json
      .payloads[0];
    const forged = { ...sealed, data: b64('not a ciphertext of ours at all') };
    const r = await rest(cp, 'POST', '/codec/decode', { token: cp.tokens.admin, body: { payloads: [sealed, forged] } });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'InvalidPayload' });
    expect(JSON.stringify(r.json)).not.toContain(plainPayload.data);
  });
});
