// Reaching a cluster's Consul servers: each server's HTTPS API with the cluster's CA, the
// management token from the stored secrets, and "any server that answers with a leader" (any
// server forwards to the leader). The Consul client itself comes from the deps' factory.
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

export interface ConsulAccessDeps<C> {
  consulAdmin: ConsulAdminFactory<C>;
  /** The cluster's CA bundle, which the servers' certificates chain to. */
  pki: { clusterCaBundle(clusterKey: string): Promise<string> };
  secrets: Pick<SecretReader, 'tokenSecretId'>;
}

export interface ConsulAccess<C> {
  /** The cluster's CA bundle and management token. */
  credentials(resourceKey: string): Promise<{ ca: string; token: string }>;
  /** A client for the server at `address`. */
  at(address: string, ca: string): C;
  /** A client for the first server that answers with a leader, and the management token. */
  admin(resourceKey: string, servers: ServerInfo[]): Promise<{ admin: C; token: string }>;
}

export function consulAccess<C extends LeaderProbe>(d: ConsulAccessDeps<C>): ConsulAccess<C> {
  const at = (address: string, ca: string) => d.consulAdmin({ url: `https://${address}:${CONSUL_HTTPS_PORT}`, caPem: ca });
  const credentials = async (resourceKey: string) => ({
    ca: await d.pki.clusterCaBundle(resourceKey),
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
