// UI endpoint certificates from Pebble by DNS-01 through challtestsrv: one account key kept,
// a valid certificate reused, renewal when fewer than 30 days remain.
import { X509Certificate, randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../lib/http.js';
import { pebbleRootPem } from '../devstack/services/pebble.js';
import { AcmeCertificates, type AcmeSecretStore } from './acme.js';
import { challtestsrvRecords } from './dns.js';

const stack = inject('stack');

function memoryStore(): AcmeSecretStore & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return { data, get: async (n) => data.get(n), put: async (n, v) => void data.set(n, v) };
}

const txtWrites: string[] = [];
const dns = challtestsrvRecords(
  stack.acme.dnsManagementUrl,
  async (url, body) => {
    if (url.endsWith('/set-txt')) txtWrites.push((JSON.parse(body) as { host: string }).host);
    return (await httpCall(url, { method: 'POST', body })).status;
  },
  stack.acme.dnsAddress,
);

it('obtains a certificate once, reuses it while it is valid, and renews within 30 days of expiry', async () => {
  const secrets = memoryStore();
  const certs = new AcmeCertificates({
    directoryUrl: stack.acme.directoryUrl,
    contactEmail: 'sre@hcs.test',
    dns,
    secrets,
    httpsAgent: new Agent({ ca: stack.acme.apiCaCertPem }),
  });
  const domain = `c-${randomUUID().slice(0, 8)}.ui.hcs.test`;
  const now = new Date();
  const first = await certs.ensureCertificate({ domain, now });
  expect(first.renewed).toBe(true);
  expect(txtWrites).toContain(`_acme-challenge.${domain}.`);
  const leaf = new X509Certificate(first.certificatePem);
  expect(leaf.subjectAltName).toBe(`DNS:${domain}`);
  const chain = first.certificatePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
  const root = new X509Certificate(await pebbleRootPem(stack.acme));
  expect(new X509Certificate(chain[1]!).verify(root.publicKey)).toBe(true);
  const accountKey = secrets.data.get('acme/account-key');
  expect(accountKey).toMatch(/PRIVATE KEY/);

  const again = await certs.ensureCertificate({ domain, now });
  expect(again).toMatchObject({ renewed: false, certificatePem: first.certificatePem });

  const nearExpiry = new Date(Date.parse(first.notAfter) - 29 * 86_400_000);
  const renewed = await certs.ensureCertificate({ domain, now: nearExpiry });
  expect(renewed.renewed).toBe(true);
  expect(renewed.certificatePem).not.toBe(first.certificatePem);
  // The same ACME account throughout.
  expect(secrets.data.get('acme/account-key')).toBe(accountKey);
});
