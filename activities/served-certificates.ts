// Whether the servers serve what was published: after a certificate rotation each server's
// host-manager writes the new files and reloads Consul (SIGHUP) on its own time, and the health
// gate cannot tell (the cluster is healthy before and after the reload). This gate compares the
// certificate each server presents on its HTTPS listener with the one its manifest names (a
// public endpoint's ACME certificate, else the server's own) until every server serves it.
import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { workerFailure } from '../contract/errors.js';
import { MANIFEST_PATH } from '../contract/host-manifest.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { CONSUL_HTTPS_PORT } from '../domain/consul-config.js';
import { serverPrefix } from './cluster-blobs.js';
import { HEALTH_POLL_MS } from './consul-health.js';
import { pollUntil, type GateTiming } from './polling.js';
import { manifestFiles, type BlobReader } from './server-certificates.js';

/** The SHA-256 fingerprint of the certificate a TLS listener presents (as X509Certificate gives it). */
export type PresentedFingerprint = (host: string, port: number) => Promise<string>;

export type ServedCertificateDeps = GateTiming & {
  blobs: BlobReader;
  /** The handshake; a real TLS connection unless given. */
  presentedFingerprint?: PresentedFingerprint;
};

/**
 * The fingerprint of what `host`:`port` presents. Nothing is sent and nothing is trusted: the
 * fingerprint is only compared with one the control plane published itself.
 */
export const tlsPresentedFingerprint: PresentedFingerprint = (host, port) =>
  new Promise((resolve, reject) => {
    const socket = connect({ host, port, rejectUnauthorized: false, timeout: 5_000 }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.destroy();
      if (cert) resolve(cert.fingerprint256);
      else reject(new Error('no certificate presented'));
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within 5 s`)));
    socket.once('error', reject);
  });

export function createServedCertificateActivities(deps: ServedCertificateDeps) {
  const presented = deps.presentedFingerprint ?? tlsPresentedFingerprint;
  const timing: GateTiming = { healthTimeoutMs: deps.healthTimeoutMs, healthPollMs: deps.healthPollMs ?? HEALTH_POLL_MS };

  /** The fingerprint of the HTTPS certificate the server's manifest names, if it has a manifest. */
  async function published(plan: ClusterPlan, server: ServerInfo): Promise<string | undefined> {
    const files = await manifestFiles(deps.blobs, plan.resourceKey, serverPrefix(server.index));
    const blob = (files?.find((f) => f.path === MANIFEST_PATH.httpsCert) ?? files?.find((f) => f.path === MANIFEST_PATH.serverCert))?.blob;
    const pem = blob && (await deps.blobs.read(plan.resourceKey, blob));
    // The blob holds the leaf first, then its chain: X509Certificate reads the first.
    return pem ? new X509Certificate(pem.content).fingerprint256 : undefined;
  }

  return {
    /**
     * Polls (heartbeating) until every server presents on HTTPS the certificate its manifest
     * names: host-manager has written the published files and Consul has reloaded them.
     */
    async waitForServedCertificates(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ servers: number }> {
      const wanted = new Map<string, string>();
      for (const s of a.servers) {
        const fingerprint = await published(a.plan, s);
        if (!fingerprint) throw workerFailure('ManifestMissing', `${s.name} has no published HTTPS certificate`);
        wanted.set(s.address, fingerprint);
      }
      const pending = new Set(a.servers);
      return pollUntil<{ servers: number }>(
        timing,
        (problem) => workerFailure('CertificateNotServed', `the published certificates are not served yet: ${problem}`),
        async () => {
          const problems: string[] = [];
          for (const s of [...pending]) {
            const got = await presented(s.address, CONSUL_HTTPS_PORT).then(
              (fingerprint) => ({ fingerprint }),
              (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
            );
            if ('error' in got) problems.push(`${s.name} is unreachable on HTTPS (${got.error})`);
            else if (got.fingerprint === wanted.get(s.address)) pending.delete(s);
            else problems.push(`${s.name} still serves an earlier certificate`);
          }
          return pending.size === 0 ? { done: { servers: a.servers.length } } : { problem: problems.join('; ') };
        },
      );
    },
  };
}
