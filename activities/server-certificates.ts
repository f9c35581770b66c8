// Which server certificates can stay, and issuing one that cannot: each server's manifest names
// its certificate and key blobs; a certificate stays while it is for the server's address and
// less than two thirds of its life has passed (vault-pki.ts needsRenewal). Read by publishing
// (keep or issue), by the certificate check (rotate or not) and by the snapshot schedule
// (rotation goes first).
import { X509Certificate } from 'node:crypto';
import { hostManifestSchema, MANIFEST_PATH, manifestBlobName, type HostManifest } from '../contract/host-manifest.js';
import { serverPrefix } from './cluster-blobs.js';
import type { IssuedCertificate } from './vault-pki.js';
import { needsRenewal } from './vault-pki.js';

/**
 * DNS names a server's certificate carries besides server.<dc>.consul: a public endpoint's name,
 * so that a client that names the cluster (consul-k8s's tlsServerName) verifies gRPC too, whose
 * listener keeps the cluster CA's certificate while HTTPS presents the ACME one.
 */
export function serverDnsNames(plan: { publicEndpoint: boolean; fqdn: string }): string[] {
  return plan.publicEndpoint ? [plan.fqdn] : [];
}

/** Reading a cluster's blobs. */
export interface BlobReader {
  read(clusterKey: string, blobName: string): Promise<{ content: Buffer; generation: number } | undefined>;
}

/** Writing a cluster's blobs, never over a newer generation. */
export interface BlobWriter {
  writeIfNewer(clusterKey: string, blobName: string, content: Buffer | string, generation: number): Promise<unknown>;
}

/** A server's certificate and key blobs and when the certificate expires (ms since the epoch). */
export interface ServerCertificateBlobs {
  certBlob: string;
  keyBlob: string;
  notAfter: number;
}

/** The files a server's manifest lists (blob and path), if it has a manifest. */
export async function manifestFiles(blobs: BlobReader, clusterKey: string, prefix: string): Promise<HostManifest['files'] | undefined> {
  const manifest = await blobs.read(clusterKey, manifestBlobName(prefix));
  return manifest && hostManifestSchema.parse(JSON.parse(manifest.content.toString('utf8'))).files;
}

/** The blob names the server's manifest gives its certificate and key, if it has a manifest. */
async function publishedBlobs(
  blobs: BlobReader,
  clusterKey: string,
  prefix: string,
): Promise<{ certBlob: string; keyBlob: string } | undefined> {
  const files = await manifestFiles(blobs, clusterKey, prefix);
  if (!files) return undefined;
  const certBlob = files.find((f) => f.path === MANIFEST_PATH.serverCert)?.blob;
  const keyBlob = files.find((f) => f.path === MANIFEST_PATH.serverKey)?.blob;
  return certBlob && keyBlob ? { certBlob, keyBlob } : undefined;
}

/** The server's current certificate blobs when they can stay: right address, enough life left. */
export async function currentCertificate(
  blobs: BlobReader,
  clusterKey: string,
  prefix: string,
  address: string,
  o: {
    /** Also renew a certificate written by an earlier generation than this (a requested rotation). */
    renewIssuedBefore?: number | undefined;
    /** DNS names the certificate must carry besides server.<dc>.consul (a public endpoint's name). */
    dnsNames?: string[];
  } = {},
): Promise<ServerCertificateBlobs | undefined> {
  const { renewIssuedBefore } = o;
  const published = await publishedBlobs(blobs, clusterKey, prefix);
  if (!published) return undefined;
  const { certBlob, keyBlob } = published;
  const cert = await blobs.read(clusterKey, certBlob);
  if (!cert || !(await blobs.read(clusterKey, keyBlob))) return undefined;
  const pem = cert.content.toString('utf8');
  const x509 = new X509Certificate(pem);
  const sans = x509.subjectAltName?.split(', ') ?? [];
  if (![`IP Address:${address}`, ...(o.dnsNames ?? []).map((n) => `DNS:${n}`)].every((san) => sans.includes(san))) return undefined;
  if (renewIssuedBefore !== undefined && cert.generation < renewIssuedBefore) return undefined;
  return needsRenewal(pem, new Date()) ? undefined : { certBlob, keyBlob, notAfter: Date.parse(x509.validTo) };
}

/**
 * Writes a newly issued certificate under blob names of its own (from its serial), so a
 * certificate and its key always match: the manifest switches to them only once both are there.
 */
export async function writeIssuedCertificate(
  blobs: BlobWriter,
  clusterKey: string,
  prefix: string,
  issued: Pick<IssuedCertificate, 'certificatePem' | 'privateKeyPem' | 'caBundlePem' | 'serialNumber'>,
  generation: number,
): Promise<ServerCertificateBlobs> {
  const serial = issued.serialNumber.replace(/:/g, '');
  const cert = {
    certBlob: `${prefix}tls/server-${serial}.pem`,
    keyBlob: `${prefix}tls/server-${serial}.key`,
    notAfter: Date.parse(new X509Certificate(issued.certificatePem).validTo),
  };
  await blobs.writeIfNewer(clusterKey, cert.keyBlob, issued.privateKeyPem, generation);
  // The chain goes with the certificate, so servers of other datacenters (other
  // intermediates under the same root) can verify it.
  await blobs.writeIfNewer(clusterKey, cert.certBlob, `${issued.certificatePem.trim()}\n${issued.caBundlePem}`, generation);
  return cert;
}

/** How many servers' certificates are missing, for the wrong address or past two thirds of their life. */
export async function dueCertificates(
  blobs: BlobReader,
  clusterKey: string,
  servers: ReadonlyArray<{ index: number; address: string }>,
  dnsNames: string[] = [],
): Promise<number> {
  let due = 0;
  for (const s of servers) if (!(await currentCertificate(blobs, clusterKey, serverPrefix(s.index), s.address, { dnsNames }))) due++;
  return due;
}

/**
 * How many servers serve a published certificate past two thirds of its life: certificates that
 * will lapse unless a rotation replaces them soon. (A server with nothing published has nothing
 * to lapse.)
 */
export async function expiringCertificates(
  blobs: BlobReader,
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
