// The cluster's endpoint: its DNS name (A records to the servers, or to its public IP address
// for a public endpoint once it has one), the servers' private DNS name (A records to every
// server's private address, for every cluster: client agents join by it), both marked as the
// cluster's; for a public endpoint only, its ACME certificate by DNS-01. Removed again on delete.
import { Context } from '@temporalio/activity';
import { isIPv4 } from 'node:net';
import { workerFailure } from '../contract/errors.js';
import { planPrivateFqdn, type ClusterPlan, type ServerInfo } from '../domain/cluster-plan.js';
import { claim } from './cluster-names.js';
import { endpointAcme, type EndpointCertificateDeps } from './endpoint-certificate.js';
import { whileHeartbeating } from './polling.js';

export type EndpointDeps = EndpointCertificateDeps;

export function createEndpointActivities(deps: EndpointDeps) {
  return {
    /**
     * The endpoint's DNS name and the servers' private DNS name, and, only for a cluster with a
     * public endpoint, its ACME certificate by DNS-01: the ACME CA's rate limits are shared by
     * every tenant, so private clusters order nothing. The private name's A records are the
     * servers' private addresses; the endpoint name's are the servers' addresses too for a
     * private cluster, and for a public endpoint its load balancer's public IP address, set when
     * `publicIpAddress` is given (Terraform's apply) and otherwise left as it is (a rotation or a
     * repair does not know it). Every operation that changes the servers' addresses runs this
     * again, so both names follow.
     */
    async ensureEndpoint(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      publicIpAddress?: string | null;
    }): Promise<{ fqdn: string; privateFqdn: string; certificateNotAfter: string | null }> {
      const { plan } = a;
      const privateFqdn = planPrivateFqdn(plan);
      if (a.publicIpAddress != null && !isIPv4(a.publicIpAddress))
        throw workerFailure('InvalidOperationInput', `ensureEndpoint: publicIpAddress '${a.publicIpAddress}' is not an IPv4 address`);
      const addresses = a.servers.map((s) => s.address);
      if (addresses.length === 0)
        throw workerFailure('InvalidOperationInput', `ensureEndpoint: no server addresses for ${plan.fqdn} and ${privateFqdn}`);
      return whileHeartbeating(async () => {
        // Before any record (A or ACME TXT) is written: a name another cluster holds is refused.
        for (const name of [plan.fqdn, privateFqdn]) claim(`the DNS name ${name}`, await deps.dns.ownerOf(name), plan.owner);
        await deps.dns.setA(privateFqdn, addresses, plan.owner);
        if (!plan.publicEndpoint) await deps.dns.setA(plan.fqdn, addresses, plan.owner);
        else if (a.publicIpAddress) await deps.dns.setA(plan.fqdn, [a.publicIpAddress], plan.owner);
        if (!plan.publicEndpoint) return { fqdn: plan.fqdn, privateFqdn, certificateNotAfter: null };
        const cert = await endpointAcme(deps, plan.resourceKey).ensureCertificate({ domain: plan.fqdn, now: new Date() });
        return { fqdn: plan.fqdn, privateFqdn, certificateNotAfter: cert.notAfter };
      });
    },

    /**
     * Removes the endpoint's and the private name's DNS records and the certificate's challenge
     * record; records of another cluster under either name stay.
     */
    async removeEndpoint(a: { plan: ClusterPlan }): Promise<void> {
      const privateFqdn = planPrivateFqdn(a.plan);
      if ((await deps.dns.clearA(privateFqdn, a.plan.owner)) === 'foreign')
        Context.current().log.warn('the private name belongs to another cluster; its records were left alone', { fqdn: privateFqdn });
      if ((await deps.dns.clearA(a.plan.fqdn, a.plan.owner)) === 'foreign') {
        Context.current().log.warn('the endpoint name belongs to another cluster; its records were left alone', { fqdn: a.plan.fqdn });
        return;
      }
      await deps.dns.clearTxt(`_acme-challenge.${a.plan.fqdn}`);
    },
  };
}
