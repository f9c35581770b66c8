import acme from 'acme-client';
import { X509Certificate, randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { pebbleRootPem } from '../../devstack/services/pebble.js';

const stack = inject('stack');

it('obtains a certificate from Pebble through DNS-01 with the TXT record set in challtestsrv', async () => {
  // Trust Pebble's API through its CA, never by switching verification off.
  acme.axios.defaults.httpsAgent = new Agent({ ca: stack.acme.apiCaCertPem });
  const client = new acme.Client({
    directoryUrl: stack.acme.directoryUrl,
    accountKey: await acme.crypto.createPrivateEcdsaKey(),
  });
  const domain = `ui-${randomUUID().slice(0, 8)}.clusters.hcs.test`;
  const [key, csr] = await acme.crypto.createCsr({ commonName: domain, altNames: [domain] }, await acme.crypto.createPrivateEcdsaKey());
  const txtWrites: string[] = [];
  const dns = (path: string, body: object) =>
    httpCall(`${stack.acme.dnsManagementUrl}${path}`, { method: 'POST', body: JSON.stringify(body) }).then((r) => {
      if (r.status !== 200) throw new Error(`challtestsrv ${path}: ${r.status}`);
    });

  const chain = await client.auto({
    csr,
    termsOfServiceAgreed: true,
    challengePriority: ['dns-01'],
    // Our own pre-check would ask the machine's resolver, which does not know challtestsrv.
    skipChallengeVerification: true,
    challengeCreateFn: async (authz, _challenge, keyAuthorization) => {
      txtWrites.push(authz.identifier.value);
      await dns('/set-txt', { host: `_acme-challenge.${authz.identifier.value}.`, value: keyAuthorization });
    },
    challengeRemoveFn: async (authz) => {
      await dns('/clear-txt', { host: `_acme-challenge.${authz.identifier.value}.` });
    },
  });

  expect(txtWrites).toEqual([domain]);
  expect(key.toString()).toMatch(/PRIVATE KEY/);
  const pems = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  expect(pems.length).toBeGreaterThanOrEqual(2);
  const leaf = new X509Certificate(pems[0]!);
  const intermediate = new X509Certificate(pems[1]!);
  expect(leaf.subjectAltName).toBe(`DNS:${domain}`);
  expect(leaf.verify(intermediate.publicKey)).toBe(true);
  // The intermediate chains to Pebble's current root.
  const root = new X509Certificate(await pebbleRootPem(stack.acme));
  expect(intermediate.verify(root.publicKey)).toBe(true);
});
