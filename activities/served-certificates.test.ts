// The served-certificate gate: the real TLS handshake reads what a listener presents, and the gate
// waits until every server presents the certificate its manifest names (a public endpoint's
// HTTPS certificate before the server's own), fails with the servers still behind once its time
// is up, and refuses a server with nothing published. Blob reads are an in-memory stand-in of our
// own reader; test/lifecycle/public-endpoint.test.ts runs the gate on real servers.
import { MockActivityEnvironment } from '@temporalio/testing';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { MANIFEST_PATH, manifestBlobName } from '../contract/host-manifest.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { serverPrefix } from './cluster-blobs.js';
import { createServedCertificateActivities, tlsPresentedFingerprint, type PresentedFingerprint } from './served-certificates.js';

let dir: string;
let pems: string[];
let server: Server;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'served-'));
  // Two certificates of two throwaway CAs: an "old" and a "new" one.
  pems = ['a', 'b'].map((n) => readFileSync(ensureDevCertificate(join(dir, n)).certFile, 'utf8'));
  const tls = ensureDevCertificate(join(dir, 'a'));
  server = createServer({ cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const plan = { resourceKey: 'k' } as ClusterPlan;
const servers: ServerInfo[] = [0, 1].map((index) => ({ index, name: `s-${index}`, zone: '1', address: `127.9.9.${index + 1}` }));

/** Blobs as the control plane publishes them: each server's manifest naming its certificate blobs. */
function blobs(files: Record<number, { path: string; pem: string }[]>) {
  const store = new Map<string, Buffer>();
  for (const [index, list] of Object.entries(files)) {
    const prefix = serverPrefix(Number(index));
    const entries = list.map((f, i) => ({ blob: `${prefix}f${i}`, path: f.path }));
    list.forEach((f, i) => store.set(`${prefix}f${i}`, Buffer.from(f.pem)));
    store.set(manifestBlobName(prefix), Buffer.from(JSON.stringify({ consulVersion: '1.22.7', generation: 1, files: entries })));
  }
  return { read: async (_k: string, name: string) => (store.has(name) ? { content: store.get(name)!, generation: 1 } : undefined) };
}

const gate = (b: ReturnType<typeof blobs>, presented: PresentedFingerprint, healthTimeoutMs = 2_000) => {
  const activities = createServedCertificateActivities({ blobs: b, presentedFingerprint: presented, healthTimeoutMs, healthPollMs: 10 });
  return (a: { plan: ClusterPlan; servers: ServerInfo[] }) => activities.waitForServedCertificates(a);
};

it('reads the certificate a real TLS listener presents', async () => {
  expect(await tlsPresentedFingerprint('127.0.0.1', port)).toBe(fingerprint(pems[0]!));
  await expect(tlsPresentedFingerprint('127.0.0.1', 1)).rejects.toThrow(/ECONNREFUSED/);
});

it('waits until every server presents what its manifest names, the HTTPS certificate before the server one', async () => {
  const published = blobs({
    0: [
      { path: MANIFEST_PATH.serverCert, pem: pems[0]! },
      { path: MANIFEST_PATH.httpsCert, pem: pems[1]! },
    ],
    1: [{ path: MANIFEST_PATH.serverCert, pem: pems[1]! }],
  });
  // Each server keeps the old certificate for its first few handshakes (not reloaded yet), one refuses once.
  const asked = new Map<string, number>();
  const presented: PresentedFingerprint = async (host) => {
    const n = (asked.get(host) ?? 0) + 1;
    asked.set(host, n);
    if (host === servers[1]!.address && n === 1) throw new Error('connect ECONNREFUSED');
    return n < 4 ? fingerprint(pems[0]!) : fingerprint(pems[1]!);
  };
  const run = gate(published, presented);
  expect(await new MockActivityEnvironment().run(run, { plan, servers })).toEqual({ servers: 2 });
  expect(asked.get(servers[0]!.address)).toBe(4);
  expect(asked.get(servers[1]!.address)).toBe(4);
});

it('fails naming the servers still behind once its time is up, and refuses a server with nothing published', async () => {
  const published = blobs({
    0: [{ path: MANIFEST_PATH.serverCert, pem: pems[1]! }],
    1: [{ path: MANIFEST_PATH.serverCert, pem: pems[0]! }],
  });
  const run = gate(published, async () => fingerprint(pems[0]!), 200);
  await expect(new MockActivityEnvironment().run(run, { plan, servers })).rejects.toMatchObject({
    type: 'CertificateNotServed',
    message: expect.stringMatching(/^the published certificates are not served yet: s-0 still serves an earlier certificate\./) as string,
  });
  const none = gate(blobs({ 0: [{ path: MANIFEST_PATH.serverCert, pem: pems[1]! }] }), async () => fingerprint(pems[1]!));
  await expect(new MockActivityEnvironment().run(none, { plan, servers })).rejects.toMatchObject({
    type: 'ManifestMissing',
    message: expect.stringMatching(/^s-1 has no published HTTPS certificate\./) as string,
  });
});
