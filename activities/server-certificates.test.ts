// Which published server certificates can stay, against real OpenBao (the certificates) and real
// Azurite (the manifests): a fresh certificate stays, one past two thirds of its life is due and
// expiring, a certificate for another address is due but not expiring, and a server with nothing
// published is due (it needs one) but has nothing to lapse.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import nodeVault from 'node-vault';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { ClusterBlobs, serverPrefix } from './cluster-blobs.js';
import { memoryClusterNames } from './cluster-names.js';
import { currentCertificate, dueCertificates, expiringCertificates, writeIssuedCertificate } from './server-certificates.js';
import { VaultPki } from './vault-pki.js';

const stack = inject('stack');
const names = memoryClusterNames();
const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });
const pki = new VaultPki({
  vault,
  rootMount: stack.vault.pkiMount,
  transitMount: stack.vault.transitMount,
  transitKey: 'hcs-secrets',
  names,
});
const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
const blobs = new ClusterBlobs(service, names);
const key = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/certs`;

beforeAll(async () => {
  await pki.ensureClusterCa({ clusterKey: key, datacenter: 'dc1', maxCertTtlHours: 72 });
  await blobs.ensureContainer(key);
});
afterAll(async () => {
  await blobs.deleteContainer(key);
  await pki.destroyClusterCa(key);
});

/** Publishes a certificate for `address` with `ttlSeconds` of life as server `index`'s manifest names it. */
async function publish(index: number, address: string, ttlSeconds: number): Promise<void> {
  const c = await pki.issueServerCertificate({ clusterKey: key, datacenter: 'dc1', ipAddresses: [address], ttlHours: ttlSeconds / 3600 });
  const prefix = serverPrefix(index);
  await blobs.writeIfNewer(key, `${prefix}tls/server.pem`, c.certificatePem, Date.now());
  await blobs.writeIfNewer(key, `${prefix}tls/server.key`, c.privateKeyPem, Date.now());
  const manifest = {
    consulVersion: '1.22.7',
    generation: Date.now(),
    files: [
      { blob: `${prefix}tls/server.pem`, path: 'tls/server.pem' },
      { blob: `${prefix}tls/server.key`, path: 'tls/server.key' },
    ],
  };
  await blobs.writeIfNewer(key, `${prefix}manifest.json`, JSON.stringify(manifest), Date.now());
}

it('tells certificates that stay from those due, and due from expiring', async () => {
  const servers = [
    { index: 0, address: '10.9.0.4' }, // fresh: stays
    { index: 1, address: '10.9.0.5' }, // short-lived, soon past two thirds: due and expiring
    { index: 2, address: '10.9.0.6' }, // published for another address: due, not expiring
    { index: 3, address: '10.9.0.7' }, // nothing published: due, nothing to lapse
  ];
  await publish(0, '10.9.0.4', 3600);
  await publish(2, '10.9.0.99', 3600);
  await publish(1, '10.9.0.5', 45);
  const fresh = await currentCertificate(blobs, key, serverPrefix(0), '10.9.0.4');
  expect(fresh?.certBlob).toBe(`${serverPrefix(0)}tls/server.pem`);
  expect(fresh!.notAfter).toBeGreaterThan(Date.now() + 3_000_000);
  expect(await currentCertificate(blobs, key, serverPrefix(2), '10.9.0.6')).toBeUndefined();
  expect(await currentCertificate(blobs, key, serverPrefix(3), '10.9.0.7')).toBeUndefined();

  // Vault backdates notBefore by 30 s: a 45-second certificate is 75 s long and due 50 s after
  // its notBefore, i.e. 20 s after issue. Before that it stays.
  expect(await currentCertificate(blobs, key, serverPrefix(1), '10.9.0.5')).toBeDefined();
  expect(await expiringCertificates(blobs, key, servers)).toBe(0);
  await expect.poll(() => expiringCertificates(blobs, key, servers), { timeout: 60_000, interval: 1_000 }).toBe(1);
  expect(await currentCertificate(blobs, key, serverPrefix(1), '10.9.0.5')).toBeUndefined();
  expect(await dueCertificates(blobs, key, servers)).toBe(3);
}, 90_000);

it('writes an issued certificate under blob names of its serial, with its chain, and keeps it once the manifest names it', async () => {
  const prefix = serverPrefix(7);
  const c = await pki.issueServerCertificate({ clusterKey: key, datacenter: 'dc1', ipAddresses: ['10.9.0.8'], ttlHours: 1 });
  const serial = c.serialNumber.replace(/:/g, '');
  const written = await writeIssuedCertificate(blobs, key, prefix, c, 1);
  expect(written.certBlob).toBe(`${prefix}tls/server-${serial}.pem`);
  expect(written.keyBlob).toBe(`${prefix}tls/server-${serial}.key`);
  expect(written.notAfter).toBe(Date.parse(c.notAfter));
  const pem = (await blobs.read(key, written.certBlob))!.content.toString('utf8');
  expect(pem.startsWith(c.certificatePem.trim())).toBe(true);
  expect(pem.endsWith(c.caBundlePem)).toBe(true);
  expect((await blobs.read(key, written.keyBlob))!.content.toString('utf8')).toBe(c.privateKeyPem);
  // Not the server's certificate until its manifest names it.
  expect(await currentCertificate(blobs, key, prefix, '10.9.0.8')).toBeUndefined();
  const manifest = {
    consulVersion: '1.22.7',
    generation: 1,
    files: [
      { blob: written.certBlob, path: 'tls/server.pem' },
      { blob: written.keyBlob, path: 'tls/server.key' },
    ],
  };
  await blobs.writeIfNewer(key, `${prefix}manifest.json`, JSON.stringify(manifest), 1);
  expect(await currentCertificate(blobs, key, prefix, '10.9.0.8')).toEqual(written);
}, 30_000);
