// What each server's host-manager reads from the cluster's Blob container: its certificate, its
// Consul configuration and its manifest (contract/host-manifest.ts), published per server
// prefix; a public endpoint's ACME certificate, once per cluster; the container itself, a
// server's Consul version, and the prefixes of servers gone.
import { Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import { hostManifestSchema, MANIFEST_PATH, manifestBlobName, type HostManifest } from '../contract/host-manifest.js';
import { SECRET } from '../contract/secret-names.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { serverConfig } from '../domain/consul-config.js';
import { mergeClusterStatus } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { serverPrefix, type WriteOutcome } from './cluster-blobs.js';
import { federationJoin, type FederationPrimaries } from './federation-primary.js';
import { storedEndpointCertificate } from './endpoint-certificate.js';
import type { SecretReader } from './secrets.js';
import { currentCertificate, manifestFiles, serverDnsNames, writeIssuedCertificate, type BlobReader } from './server-certificates.js';
import type { IssuedCertificate } from './vault-pki.js';

export interface ServerFilesDeps {
  db: SqlExecutor;
  secrets: Pick<SecretReader, 'text' | 'textIfStored' | 'tokenSecretId'>;
  primaries: Pick<FederationPrimaries, 'joinablePrimary'>;
  blobs: BlobReader & {
    writeIfNewer(clusterKey: string, blobName: string, content: Buffer | string, generation: number): Promise<WriteOutcome>;
    ensureContainer(clusterKey: string): Promise<string>;
    deleteContainer(clusterKey: string): Promise<boolean>;
    deleteServerPrefixesFrom(clusterKey: string, fromIndex: number): Promise<number>;
  };
  pki: {
    clusterCaBundle(clusterKey: string): Promise<string>;
    issueServerCertificate(a: {
      clusterKey: string;
      datacenter: string;
      ipAddresses: string[];
      dnsNames?: string[];
      ttlHours: number;
    }): Promise<IssuedCertificate>;
  };
  /** Lifetime of server certificates (renewed at two thirds). */
  serverCertTtlHours: number;
}

/** Where a public endpoint's certificate and key are published in the cluster's container (by serial). */
const endpointCertificateBlobs = (serial: string) => ({
  certBlob: `endpoint/https-${serial}.pem`,
  keyBlob: `endpoint/https-${serial}.key`,
});

export function createServerFilesActivities(deps: ServerFilesDeps) {
  const { db, secrets, blobs, pki } = deps;

  /**
   * A public endpoint's ACME certificate and key under blob names of their own (from its
   * serial), for every server's manifest. Ordered before (ensureEndpointCertificate); when it is
   * not there yet the HTTPS listener keeps the Vault certificate until the next publish.
   */
  async function publishEndpointCertificate(plan: ClusterPlan, generation: number) {
    const cert = await storedEndpointCertificate(secrets, plan);
    if (!cert) {
      Context.current().log.warn('the public endpoint has no certificate yet; HTTPS keeps the cluster CA certificate', { fqdn: plan.fqdn });
      return undefined;
    }
    const blob = endpointCertificateBlobs(cert.serial);
    await Promise.all([
      blobs.writeIfNewer(plan.resourceKey, blob.certBlob, cert.certificatePem, generation),
      blobs.writeIfNewer(plan.resourceKey, blob.keyBlob, cert.privateKeyPem, generation),
    ]);
    return blob;
  }

  return {
    /**
     * How many servers' manifests do not name the public endpoint's stored certificate (0 for a
     * private cluster): a renewal that is not yet published, also after a crash between the two.
     */
    async endpointCertificateOutdated(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ outdated: number }> {
      if (!a.plan.publicEndpoint) return { outdated: 0 };
      const cert = await storedEndpointCertificate(secrets, a.plan);
      if (!cert) return { outdated: 0 };
      const wanted = endpointCertificateBlobs(cert.serial).certBlob;
      const named = await Promise.all(
        a.servers.map(
          async (s) =>
            (await manifestFiles(blobs, a.plan.resourceKey, serverPrefix(s.index)))?.find((f) => f.path === MANIFEST_PATH.httpsCert)?.blob,
        ),
      );
      return { outdated: named.filter((blob) => blob !== wanted).length };
    },

    /** The cluster's private Blob container. */
    async ensureClusterContainer(a: { resourceKey: string }): Promise<{ container: string }> {
      return { container: await blobs.ensureContainer(a.resourceKey) };
    },

    async deleteClusterContainer(a: { resourceKey: string }): Promise<{ deleted: boolean }> {
      return { deleted: await blobs.deleteContainer(a.resourceKey) };
    },

    /**
     * Each server's certificate, Consul configuration and manifest in its Blob prefix. A valid
     * certificate (right addresses, less than two thirds of its life gone) is kept; otherwise a
     * new one is issued under new blob names, so a certificate and its key always match. The
     * manifest goes last: host-manager sees a new set only when it is complete.
     */
    async publishServerFiles(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      generation: number;
      /** Servers to expect before the first leader election (the cluster size at creation). */
      bootstrapExpect: number;
      consulVersion?: string;
      /**
       * A requested rotation: certificates written by an earlier generation are renewed too.
       * Ones this generation wrote (an earlier attempt of the same operation) are kept.
       */
      renewIssuedBefore?: number;
    }): Promise<{ certificatesIssued: number }> {
      const { plan } = a;
      // The cluster's own CA only (a secondary's bundle also holds the primary's, which signed it).
      const [ca, gossip, management, agent] = await Promise.all([
        pki.clusterCaBundle(plan.resourceKey),
        secrets.text(plan.resourceKey, SECRET.gossipKey),
        secrets.tokenSecretId(plan.resourceKey, SECRET.managementToken),
        secrets.tokenSecretId(plan.resourceKey, SECRET.agentToken),
      ]);
      // A secondary's servers always get their way into the primary's WAN federation, whichever
      // workflow publishes (create, scale, certificate rotation).
      const federation = plan.federation && {
        ...federationJoin(plan, await deps.primaries.joinablePrimary(plan)),
        replicationToken: await secrets.tokenSecretId(plan.resourceKey, SECRET.replicationToken),
      };
      const addresses = a.servers.map((s) => s.address);
      const dnsNames = serverDnsNames(plan);
      const https = plan.publicEndpoint ? await publishEndpointCertificate(plan, a.generation) : undefined;
      // The servers one beside the other (each its own certificate and blobs); within a server,
      // the manifest last.
      const published = await Promise.all(
        a.servers.map(async (s) => {
          const prefix = serverPrefix(s.index);
          let cert = await currentCertificate(blobs, plan.resourceKey, prefix, s.address, {
            renewIssuedBefore: a.renewIssuedBefore,
            dnsNames,
          });
          let issued = 0;
          if (!cert) {
            const c = await pki.issueServerCertificate({
              clusterKey: plan.resourceKey,
              datacenter: plan.datacenter,
              ipAddresses: [s.address],
              dnsNames,
              ttlHours: deps.serverCertTtlHours,
            });
            cert = await writeIssuedCertificate(blobs, plan.resourceKey, prefix, c, a.generation);
            issued = 1;
          }
          const config = serverConfig({
            plan,
            server: s,
            addresses,
            gossip,
            management,
            agent,
            bootstrapExpect: a.bootstrapExpect,
            ...(federation ? { federation } : {}),
            ...(https ? { httpsCertificate: true } : {}),
          });
          await Promise.all([
            blobs.writeIfNewer(plan.resourceKey, `${prefix}tls/ca.pem`, ca, a.generation),
            blobs.writeIfNewer(plan.resourceKey, `${prefix}consul.json`, JSON.stringify(config, null, 2), a.generation),
          ]);
          const manifest: HostManifest = {
            consulVersion: a.consulVersion ?? plan.consulVersion,
            generation: a.generation,
            files: [
              { blob: `${prefix}tls/ca.pem`, path: MANIFEST_PATH.ca },
              { blob: cert.certBlob, path: MANIFEST_PATH.serverCert },
              { blob: cert.keyBlob, path: MANIFEST_PATH.serverKey },
              { blob: `${prefix}consul.json`, path: MANIFEST_PATH.consulConfig },
              ...(https
                ? [
                    { blob: https.certBlob, path: MANIFEST_PATH.httpsCert },
                    { blob: https.keyBlob, path: MANIFEST_PATH.httpsKey },
                  ]
                : []),
            ],
          };
          await blobs.writeIfNewer(
            plan.resourceKey,
            manifestBlobName(prefix),
            JSON.stringify(hostManifestSchema.parse(manifest), null, 2),
            a.generation,
          );
          Context.current().heartbeat({ server: s.name });
          return { issued, notAfter: cert.notAfter };
        }),
      );
      const issued = published.reduce((n, p) => n + p.issued, 0);
      const earliest = published.length ? Math.min(...published.map((p) => p.notAfter)) : undefined;
      // Shown on the cluster (GET), read-only: when the first of these certificates expires.
      if (earliest !== undefined)
        await mergeClusterStatus(db, plan.resourceKey, { earliestServerCertificateExpiry: new Date(earliest).toISOString() });
      return { certificatesIssued: issued };
    },

    /**
     * Points one server's manifest at another Consul version; host-manager swaps the agent in
     * place (same data, same identity). Writing the version it already has changes nothing.
     */
    async setServerVersion(a: {
      plan: ClusterPlan;
      server: ServerInfo;
      version: string;
      generation: number;
    }): Promise<{ changed: boolean }> {
      const name = manifestBlobName(serverPrefix(a.server.index));
      const current = await blobs.read(a.plan.resourceKey, name);
      if (!current) throw workerFailure('ManifestMissing', `${a.server.name} has no manifest to upgrade`);
      const manifest = hostManifestSchema.parse(JSON.parse(current.content.toString('utf8')));
      if (manifest.consulVersion === a.version) return { changed: false };
      const generation = Math.max(a.generation, current.generation + 1);
      const next: HostManifest = { ...manifest, consulVersion: a.version, generation };
      const outcome = await blobs.writeIfNewer(a.plan.resourceKey, name, JSON.stringify(next, null, 2), generation);
      return { changed: outcome === 'written' };
    },

    /** Removes the Blob prefixes of servers that no longer exist (after a scale-down). */
    async unpublishServers(a: { resourceKey: string; keepCount: number }): Promise<{ removed: number }> {
      return { removed: await blobs.deleteServerPrefixesFrom(a.resourceKey, a.keepCount) };
    },
  };
}
