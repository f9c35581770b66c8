// The cluster's PKI in Vault: its intermediate CA (a secondary's signed by its primary's),
// revoked and removed with the cluster, and which servers' certificates are due.
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { FederationPrimaries } from './federation-primary.js';
import { dueCertificates, serverDnsNames, type BlobReader } from './server-certificates.js';

export interface ClusterPkiDeps {
  pki: {
    ensureClusterCa(a: {
      clusterKey: string;
      datacenter: string;
      maxCertTtlHours: number;
      primaryClusterKey?: string | undefined;
      dnsNames?: string[];
    }): Promise<{ mount: string; fingerprint256: string }>;
    destroyClusterCa(clusterKey: string, primaryClusterKey?: string): Promise<void>;
  };
  blobs: BlobReader;
  primaries: Pick<FederationPrimaries, 'joinablePrimary'>;
  /** Lifetime of server certificates (the CA allows no longer). */
  serverCertTtlHours: number;
}

export function createClusterPkiActivities({ pki, blobs, primaries, serverCertTtlHours }: ClusterPkiDeps) {
  return {
    /** The cluster's intermediate CA in Vault (created once). */
    async ensureClusterPki(a: { plan: ClusterPlan }): Promise<{ mount: string; fingerprint256: string }> {
      // A secondary's CA is signed by its primary's, which must be there.
      if (a.plan.federation) await primaries.joinablePrimary(a.plan);
      const ca = await pki.ensureClusterCa({
        clusterKey: a.plan.resourceKey,
        datacenter: a.plan.datacenter,
        maxCertTtlHours: serverCertTtlHours,
        primaryClusterKey: a.plan.federation?.primaryResourceKey,
        dnsNames: serverDnsNames(a.plan),
      });
      return { mount: ca.mount, fingerprint256: ca.fingerprint256 };
    },

    /** Revokes the cluster's CA where it was signed (the root, or a secondary's primary) and removes its PKI mount. */
    async destroyClusterPki(a: { resourceKey: string; primaryResourceKey?: string | undefined }): Promise<void> {
      await pki.destroyClusterCa(a.resourceKey, a.primaryResourceKey);
    },

    /** How many servers' certificates are missing, for the wrong address or past two thirds of their life. */
    async certificatesDue(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ due: number }> {
      return { due: await dueCertificates(blobs, a.plan.resourceKey, a.servers, serverDnsNames(a.plan)) };
    },
  };
}
