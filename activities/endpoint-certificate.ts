// A public endpoint's certificate: ordered from the ACME CA by DNS-01 before the servers' files
// are published (so every server presents it on its HTTPS listener from its first start), kept
// while more than 30 days remain, renewed in place on request or when due. The account key
// belongs to the control plane, each certificate to its cluster; both are stored Vault-transit
// encrypted. Also: the trust the control plane reaches a public endpoint's servers with.
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import type { ClusterPlan } from '../domain/cluster-plan.js';
import { getCluster } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';
import { CONTROL_PLANE_SCOPE, putSecret } from '../store/secrets.js';
import { AcmeCertificates, type AcmeDeps, type AcmeSecretStore } from './acme.js';
import { claim, type ClusterNamesOf } from './cluster-names.js';
import type { EndpointTrust } from './consul-access.js';
import type { DnsRecords } from './dns.js';
import { whileHeartbeating } from './polling.js';
import type { SecretReader } from './secrets.js';

export interface EndpointCertificateDeps {
  db: SqlExecutor;
  secrets: Pick<SecretReader, 'textIfStored'>;
  /** Vault transit: encrypts what the store keeps (ACME account key, certificates). */
  cipher: { encrypt(plaintext: string): Promise<string> };
  dns: DnsRecords;
  acme: Pick<AcmeDeps, 'directoryUrl' | 'contactEmail' | 'httpsAgent'> & {
    /** The roots the ACME CA's certificates chain to (PEM); the process's public roots when unset. */
    trustedRootsPem?: string;
  };
}

/** The stored name of an endpoint's certificate (scope: its cluster). */
const certificateName = (fqdn: string) => `acme/certs/${fqdn}`;

/** The ACME client for one cluster: its certificates in its scope, the account key in the control plane's. */
export function endpointAcme(deps: EndpointCertificateDeps, clusterScope: string): AcmeCertificates {
  const scopeOf = (name: string) => (name.startsWith('acme/certs/') ? clusterScope : CONTROL_PLANE_SCOPE);
  const secrets: AcmeSecretStore = {
    get: (name) => deps.secrets.textIfStored(scopeOf(name), name),
    put: async (name, value) => putSecret(deps.db, scopeOf(name), name, await deps.cipher.encrypt(value)),
  };
  return new AcmeCertificates({ ...deps.acme, dns: deps.dns, secrets });
}

/** The endpoint certificate as stored (full chain and key, PEM), if one was ordered. */
export async function storedEndpointCertificate(
  secrets: Pick<SecretReader, 'textIfStored'>,
  plan: Pick<ClusterPlan, 'resourceKey' | 'fqdn'>,
): Promise<{ certificatePem: string; privateKeyPem: string; serial: string } | undefined> {
  const stored = await secrets.textIfStored(plan.resourceKey, certificateName(plan.fqdn));
  if (!stored) return undefined;
  const { certificatePem, privateKeyPem } = JSON.parse(stored) as { certificatePem: string; privateKeyPem: string };
  return { certificatePem, privateKeyPem, serial: new X509Certificate(certificatePem).serialNumber };
}

export function createEndpointCertificateActivities(deps: EndpointCertificateDeps) {
  return {
    /**
     * A public endpoint's ACME certificate (DNS-01 on the cluster's name, which must not belong
     * to another cluster): the stored one while more than 30 days remain, unless renewal was
     * requested after it was ordered (a retry of that request keeps the new one). A
     * private cluster orders nothing: the ACME CA's rate limits are shared by every tenant.
     */
    async ensureEndpointCertificate(a: {
      plan: ClusterPlan;
      /** A requested renewal (ms since the epoch): a certificate ordered before it is replaced. */
      renewOrderedBefore?: number;
    }): Promise<{ notAfter: string | null; renewed: boolean; serial: string | null }> {
      if (!a.plan.publicEndpoint) return { notAfter: null, renewed: false, serial: null };
      return whileHeartbeating(async () => {
        claim(`the DNS name ${a.plan.fqdn}`, await deps.dns.ownerOf(a.plan.fqdn), a.plan.owner);
        const cert = await endpointAcme(deps, a.plan.resourceKey).ensureCertificate({
          domain: a.plan.fqdn,
          now: new Date(),
          ...(a.renewOrderedBefore !== undefined ? { renewOrderedBefore: new Date(a.renewOrderedBefore) } : {}),
        });
        const serial = new X509Certificate(cert.certificatePem).serialNumber;
        return { notAfter: cert.notAfter, renewed: cert.renewed, serial };
      });
    },
  };
}

/** The roots a public endpoint's certificate chains to: configured (a test ACME CA) or the process's public roots. */
export function acmeRoots(acme: EndpointCertificateDeps['acme']): string {
  return acme.trustedRootsPem ?? rootCertificates.join('\n');
}

/**
 * How the control plane reaches a public endpoint's servers, whose HTTPS listener presents the
 * ACME certificate: the ACME CA's roots and the cluster's DNS name. Private clusters: undefined.
 */
export function publicEndpointTrust(d: { db: SqlExecutor; names: ClusterNamesOf; dnsZone: string; acmeRootsPem: string }): EndpointTrust {
  return async (resourceKey) => {
    const cluster = await getCluster(d.db, resourceKey);
    if (!cluster?.spec.properties.publicEndpoint) return undefined;
    const { names } = await d.names(resourceKey);
    return { caPem: d.acmeRootsPem, name: `${names.dnsLabel}.${d.dnsZone}` };
  };
}
