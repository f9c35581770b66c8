// The cluster's endpoint: its DNS name (A records to the servers, marked as the cluster's) and,
// for a public endpoint only, its ACME certificate by DNS-01; removed again on delete.
import { Context } from '@temporalio/activity';
import type { Agent } from 'node:https';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { SqlExecutor } from '../store/database.js';
import { CONTROL_PLANE_SCOPE, putSecret } from '../store/secrets.js';
import { AcmeCertificates, type AcmeSecretStore } from './acme.js';
import { claim } from './cluster-names.js';
import type { DnsRecords } from './dns.js';
import { whileHeartbeating } from './polling.js';
import type { SecretReader } from './secrets.js';

export interface EndpointDeps {
  db: SqlExecutor;
  secrets: Pick<SecretReader, 'textIfStored'>;
  /** Vault transit: encrypts what the store keeps (ACME account key, certificates). */
  cipher: { encrypt(plaintext: string): Promise<string> };
  dns: DnsRecords;
  acme: { directoryUrl: string; contactEmail: string; httpsAgent?: Agent };
}

export function createEndpointActivities(deps: EndpointDeps) {
  function acmeFor(scope: string): AcmeCertificates {
    // The account key belongs to the control plane; certificates to their cluster.
    const scopeOf = (name: string) => (name.startsWith('acme/certs/') ? scope : CONTROL_PLANE_SCOPE);
    const secrets: AcmeSecretStore = {
      get: (name) => deps.secrets.textIfStored(scopeOf(name), name),
      put: async (name, value) => putSecret(deps.db, scopeOf(name), name, await deps.cipher.encrypt(value)),
    };
    return new AcmeCertificates({ ...deps.acme, dns: deps.dns, secrets });
  }

  return {
    /**
     * The endpoint's DNS name (A records to the servers' private addresses, for every cluster)
     * and, only for a cluster with a public endpoint, its ACME certificate by DNS-01: the ACME
     * CA's rate limits are shared by every tenant, so private clusters order nothing.
     */
    async ensureEndpoint(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ fqdn: string; certificateNotAfter: string | null }> {
      return whileHeartbeating(async () => {
        // Before any record (A or ACME TXT) is written: a name another cluster holds is refused.
        claim(`the DNS name ${a.plan.fqdn}`, await deps.dns.ownerOf(a.plan.fqdn), a.plan.owner);
        await deps.dns.setA(
          a.plan.fqdn,
          a.servers.map((s) => s.address),
          a.plan.owner,
        );
        if (!a.plan.publicEndpoint) return { fqdn: a.plan.fqdn, certificateNotAfter: null };
        const cert = await acmeFor(a.plan.resourceKey).ensureCertificate({ domain: a.plan.fqdn, now: new Date() });
        return { fqdn: a.plan.fqdn, certificateNotAfter: cert.notAfter };
      });
    },

    /** Removes the endpoint's DNS records and its certificate; records of another cluster under the name stay. */
    async removeEndpoint(a: { plan: ClusterPlan }): Promise<void> {
      if ((await deps.dns.clearA(a.plan.fqdn, a.plan.owner)) === 'foreign') {
        Context.current().log.warn('the endpoint name belongs to another cluster; its records were left alone', { fqdn: a.plan.fqdn });
        return;
      }
      await deps.dns.clearTxt(`_acme-challenge.${a.plan.fqdn}`);
    },
  };
}
