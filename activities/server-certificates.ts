// Which server certificates can stay: each server's manifest names its certificate and key
// blobs; a certificate stays while it is for the server's address and less than two thirds of
// its life has passed (vault-pki.ts needsRenewal). Read by publishing (keep or issue), by the
// certificate check (rotate or not) and by the snapshot schedule (rotation goes first).
import { X509Certificate } from 'node:crypto';
import { serverPrefix, type ClusterBlobs } from './cluster-blobs.js';
import { needsRenewal } from './vault-pki.js';

/** The blob names the server's manifest gives its certificate and key, if it has a manifest. */
async function publishedBlobs(
  blobs: ClusterBlobs,
  clusterKey: string,
  prefix: string,
): Promise<{ certBlob: string; keyBlob: string } | undefined> {
  const manifest = await blobs.read(clusterKey, `${prefix}manifest.json`);
  if (!manifest) return undefined;
  const files = (JSON.parse(manifest.content.toString('utf8')) as { files: Array<{ blob: string; path: string }> }).files;
  const certBlob = files.find((f) => f.path === 'tls/server.pem')?.blob;
  const keyBlob = files.find((f) => f.path === 'tls/server.key')?.blob;
  return certBlob && keyBlob ? { certBlob, keyBlob } : undefined;
}

/** The server's current certificate blobs when they can stay: right address, enough life left. */
export async function currentCertificate(
  blobs: ClusterBlobs,
  clusterKey: string,
  prefix: string,
  address: string,
): Promise<{ certBlob: string; keyBlob: string; notAfter: number } | undefined> {
  const published = await publishedBlobs(blobs, clusterKey, prefix);
  if (!published) return undefined;
  const { certBlob, keyBlob } = published;
  const cert = await blobs.read(clusterKey, certBlob);
  if (!cert || !(await blobs.read(clusterKey, keyBlob))) return undefined;
  const pem = cert.content.toString('utf8');
  const x509 = new X509Certificate(pem);
  if (!x509.subjectAltName?.split(', ').includes(`IP Address:${address}`)) return undefined;
  return needsRenewal(pem, new Date()) ? undefined : { certBlob, keyBlob, notAfter: Date.parse(x509.validTo) };
}

/** How many servers' certificates are missing, for the wrong address or past two thirds of their life. */
export async function dueCertificates(
  blobs: ClusterBlobs,
  clusterKey: string,
  servers: ReadonlyArray<{ index: number; address: string }>,
): Promise<number> {
  let due = 0;
  for (const s of servers) if (!(await currentCertificate(blobs, clusterKey, serverPrefix(s.index), s.address))) due++;
  return due;
}

/**
 * How many servers serve a published certificate past two thirds of its life: certificates that
 * will lapse unless a rotation replaces them soon. (A server with nothing published has nothing
 * to lapse.)
 */
export async function expiringCertificates(
  blobs: ClusterBlobs,
  clusterKey: string,
  servers: ReadonlyArray<{ index: number }>,
): Promise<number> {
  let expiring = 0;
  for (const s of servers) {
    const published = await publishedBlobs(blobs, clusterKey, serverPrefix(s.index));
    const cert = published && (await blobs.read(clusterKey, published.certBlob));
    if (cert && needsRenewal(cert.content.toString('utf8'), new Date())) expiring++;
  }
  return expiring;
}
