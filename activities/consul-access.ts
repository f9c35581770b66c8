// Reaching a cluster's Consul servers: each server's HTTPS API with the cluster's CA, the
// management token from the stored secrets, and "any server that answers with a leader" (any
// server forwards to the leader). The Consul client itself comes from the deps' factory. A
// cluster with a public endpoint serves its ACME certificate on HTTPS: its trust then also holds
// the ACME CA's roots and accepts the cluster's DNS name (activities/endpoint-trust.ts).
import { workerFailure } from '../contract/errors.js';
import { SECRET } from '../contract/secret-names.js';
import type { ServerInfo } from '../domain/cluster-plan.js';
import { CONSUL_HTTPS_PORT } from '../domain/consul-config.js';
import type { ConsulEndpoint } from './consul-admin.js';
import type { SecretReader } from './secrets.js';

/** Every Consul client the activities use can at least name the leader. */
export interface LeaderProbe {
  leaderAddress(token: string): Promise<string>;
}

/** Makes a Consul client for one server's HTTPS API. */
export type ConsulAdminFactory<C> = (endpoint: ConsulEndpoint) => C;

/** What a server's HTTPS certificate may chain to and be named. */
export interface ServerTrust {
  caPem: string;
  /** Names the certificate may carry instead of the server's address. */
  tlsNames?: string[];
}

/** A public endpoint's trust (the ACME CA's roots, the cluster's DNS name); undefined for a private cluster. */
export type EndpointTrust = (resourceKey: string) => Promise<{ caPem: string; name: string } | undefined>;

export interface ConsulAccessDeps<C> {
  consulAdmin: ConsulAdminFactory<C>;
  /** The cluster's CA bundle, which the servers' certificates chain to. */
  pki: { clusterCaBundle(clusterKey: string): Promise<string> };
  secrets: Pick<SecretReader, 'tokenSecretId'>;
  endpointTrust?: EndpointTrust;
}

/** The trust for a cluster's servers: its CA, and for a public endpoint also the ACME certificate. */
export async function serverTrust(d: Pick<ConsulAccessDeps<unknown>, 'pki' | 'endpointTrust'>, resourceKey: string): Promise<ServerTrust> {
  const [caPem, endpoint] = await Promise.all([d.pki.clusterCaBundle(resourceKey), d.endpointTrust?.(resourceKey)]);
  return endpoint ? { caPem: `${caPem.trimEnd()}\n${endpoint.caPem.trim()}\n`, tlsNames: [endpoint.name] } : { caPem };
}

export interface ConsulAccess<C> {
  /** The trust for the cluster's servers and its management token. */
  credentials(resourceKey: string): Promise<{ ca: ServerTrust; token: string }>;
  /** A client for the server at `address`. */
  at(address: string, ca: ServerTrust): C;
  /** A client for the first server that answers with a leader, and the management token. */
  admin(resourceKey: string, servers: ServerInfo[]): Promise<{ admin: C; token: string }>;
}

export function consulAccess<C extends LeaderProbe>(d: ConsulAccessDeps<C>): ConsulAccess<C> {
  const at = (address: string, ca: ServerTrust) =>
    d.consulAdmin({ url: `https://${address}:${CONSUL_HTTPS_PORT}`, caPem: ca.caPem, ...(ca.tlsNames ? { tlsNames: ca.tlsNames } : {}) });
  const credentials = async (resourceKey: string) => ({
    ca: await serverTrust(d, resourceKey),
    token: await d.secrets.tokenSecretId(resourceKey, SECRET.managementToken),
  });
  return {
    credentials,
    at,
    async admin(resourceKey, servers) {
      const { ca, token } = await credentials(resourceKey);
      for (const s of servers) {
        const a = at(s.address, ca);
        if (await a.leaderAddress(token).catch(() => '')) return { admin: a, token };
      }
      throw workerFailure('ClusterNotHealthy', 'no server of the cluster answers with a leader');
    },
  };
}
