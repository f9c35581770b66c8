// Per-cluster PKI and transit encryption against the real OpenBao server.
import nodeVault from 'node-vault';
import { X509Certificate, randomBytes, randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { DERIVED_NAME_OWNED, memoryClusterNames } from './cluster-names.js';
import { needsRenewal, VaultPki } from './vault-pki.js';

const stack = inject('stack');
const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });
const names = memoryClusterNames();
const options = { vault, rootMount: stack.vault.pkiMount, transitMount: stack.vault.transitMount, transitKey: 'hcs-secrets' };
const pki = new VaultPki({ ...options, names });
const clusterKey = () => `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/pki`;
const pems = (bundle: string) =>
  (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
const rootCa = async () =>
  new X509Certificate(
    ((await vault.read(`${stack.vault.pkiMount}/issuer/hcs-root`)) as { data: { certificate: string } }).data.certificate,
  );

it('creates one CA per cluster, chained to the root but trusting its intermediate alone, and finds the same CA on every retry', async () => {
  const key = clusterKey();
  const first = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  const again = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  expect(again).toEqual(first);
  expect(first.mount).toBe(`pki-cluster-${(await names(key)).clusterId}`);
  // The bundle is the intermediate alone: never the shared root, which every cluster's CA chains to.
  const bundle = pems(first.caBundlePem);
  expect(bundle.map((c) => c.fingerprint256)).toEqual([first.fingerprint256]);
  const [intermediate] = bundle as [X509Certificate];
  const root = await rootCa();
  expect(intermediate.checkIssued(root) && intermediate.verify(root.publicKey)).toBe(true);
  expect(intermediate.ca).toBe(true);
  expect(await pki.clusterCaBundle(key)).toBe(first.caBundlePem);
  expect(await pki.clusterIntermediate(key)).toBe(first.caBundlePem);
  const other = await pki.ensureClusterCa({ clusterKey: clusterKey(), datacenter: 'dc1', maxCertTtlHours: 72 });
  expect(other.fingerprint256).not.toBe(first.fingerprint256);
});

it('issues short-lived server certificates for server.<dc>.consul and the server address only', async () => {
  const key = clusterKey();
  const ca = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'east', maxCertTtlHours: 72 });
  const issued = await pki.issueServerCertificate({ clusterKey: key, datacenter: 'east', ipAddresses: ['10.0.0.4'], ttlHours: 72 });
  const cert = new X509Certificate(issued.certificatePem);
  expect(cert.subjectAltName).toContain('DNS:server.east.consul');
  expect(cert.subjectAltName).toContain('IP Address:10.0.0.4');
  const lifetimeHours = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 3_600_000;
  expect(lifetimeHours).toBeGreaterThan(71);
  expect(lifetimeHours).toBeLessThanOrEqual(72.1);
  expect(cert.verify(new X509Certificate(ca.caBundlePem).publicKey)).toBe(true);
  expect(issued.privateKeyPem).toMatch(/PRIVATE KEY/);
  // Longer than the cluster's maximum, or another datacenter's name: refused by Vault's role.
  await expect(
    pki.issueServerCertificate({ clusterKey: key, datacenter: 'west', ipAddresses: ['10.0.0.4'], ttlHours: 1 }),
  ).rejects.toThrow();
  expect(needsRenewal(issued.certificatePem, new Date())).toBe(false);
  expect(needsRenewal(issued.certificatePem, new Date(Date.now() + 49 * 3_600_000))).toBe(true);
  expect(needsRenewal(undefined, new Date())).toBe(true);
});

it('revokes and removes a cluster CA on destroy, repeatably, and a later create makes a new one', async () => {
  const key = clusterKey();
  const ca = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  await pki.destroyClusterCa(key);
  await pki.destroyClusterCa(key);
  expect(Object.keys(await vault.mounts())).not.toContain(`${ca.mount}/`);
  const revoked = (await vault.list(`${stack.vault.pkiMount}/certs/revoked`)) as { data: { keys: string[] } };
  const serial = new X509Certificate(ca.caBundlePem).serialNumber.toLowerCase().match(/../g)!.join(':');
  expect(revoked.data.keys).toContain(serial);
  const again = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  expect(again.fingerprint256).not.toBe(ca.fingerprint256);
});

it("signs a federation secondary's CA with its primary's: both in the secondary's bundle and chain, revoked at the primary", async () => {
  const [primaryKey, secondaryKey] = [clusterKey(), clusterKey()];
  const fp = (c: X509Certificate) => c.fingerprint256;
  const primary = await pki.ensureClusterCa({ clusterKey: primaryKey, datacenter: 'dc1', maxCertTtlHours: 72 });
  const input = { clusterKey: secondaryKey, datacenter: 'dc2', maxCertTtlHours: 72, primaryClusterKey: primaryKey };
  const secondary = await pki.ensureClusterCa(input);
  expect(await pki.ensureClusterCa(input)).toEqual(secondary);
  const [own, primaryCa] = pems(secondary.caBundlePem) as [X509Certificate, X509Certificate];
  expect([own, primaryCa].map(fp)).toEqual([secondary.fingerprint256, primary.fingerprint256]);
  expect(own.checkIssued(primaryCa) && own.verify(primaryCa.publicKey)).toBe(true);
  // The primary still trusts its own intermediate alone; the secondary's clients theirs alone.
  expect(await pki.clusterCaBundle(primaryKey)).toBe(primary.caBundlePem);
  expect(pems(await pki.clusterIntermediate(secondaryKey)).map(fp)).toEqual([secondary.fingerprint256]);
  // Its server certificates carry the chain up to the primary's intermediate, which the primary's servers trust.
  const issued = await pki.issueServerCertificate({ clusterKey: secondaryKey, datacenter: 'dc2', ipAddresses: ['10.0.0.5'], ttlHours: 1 });
  expect(pems(issued.caBundlePem).map(fp)).toEqual([secondary.fingerprint256, primary.fingerprint256]);
  expect(new X509Certificate(issued.certificatePem).verify(own.publicKey)).toBe(true);
  await pki.destroyClusterCa(secondaryKey, primaryKey);
  const revoked = (await vault.list(`${primary.mount}/certs/revoked`)) as { data: { keys: string[] } };
  expect(revoked.data.keys).toContain(own.serialNumber.toLowerCase().match(/../g)!.join(':'));
  expect(Object.keys(await vault.mounts())).not.toContain(`${secondary.mount}/`);
  await pki.destroyClusterCa(primaryKey);
});

it("refuses another cluster's PKI mount under the same name, and never removes it", async () => {
  const key = clusterKey();
  const victim = await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  const intruderId = randomBytes(16).toString('hex');
  const intruder = new VaultPki({
    ...options,
    names: async () => ({ clusterId: intruderId, names: (await names(key)).names, owner: { clusterId: intruderId } }),
  });
  await expect(intruder.ensureClusterCa({ clusterKey: 'intruder', datacenter: 'dc1', maxCertTtlHours: 72 })).rejects.toMatchObject({
    type: DERIVED_NAME_OWNED,
    nonRetryable: true,
  });
  await intruder.destroyClusterCa('intruder');
  // The victim's CA is still there, unchanged, and still issues.
  expect(await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 })).toEqual(victim);
  await pki.issueServerCertificate({ clusterKey: key, datacenter: 'dc1', ipAddresses: ['10.0.0.9'], ttlHours: 1 });
  await pki.destroyClusterCa(key);
});

it('encrypts secrets with the transit key; the ciphertext reveals nothing and decrypts back', async () => {
  const gossip = Buffer.from(randomUUID()).toString('base64');
  const ciphertext = await pki.encrypt(gossip);
  expect(ciphertext).toMatch(/^vault:v\d+:/);
  expect(ciphertext).not.toContain(gossip);
  expect(await pki.decrypt(ciphertext)).toBe(gossip);
});
