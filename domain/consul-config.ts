// Consul configuration the control plane renders: each server's agent configuration and the
// document a client agent needs to join (its configuration, the CA bundle, the Helm values).
// Pure: the secrets it embeds are passed in by the caller, which reads them.
import { planPrivateFqdn, type ClusterPlan, type FederationJoin, type ServerInfo } from './cluster-plan.js';
import { helmValuesYaml } from './helm-values.js';

/** Consul's HTTPS API port on every server (plain HTTP is off). */
export const CONSUL_HTTPS_PORT = 8501;
/** Consul's plain HTTP port, which must stay closed. */
export const CONSUL_PLAIN_HTTP_PORT = 8500;
/** Consul's gRPC port with TLS on every server (xDS and peering for Consul Dataplane; plain gRPC is off). */
export const CONSUL_GRPC_TLS_PORT = 8503;

/** The name every server certificate of the datacenter carries (activities/vault-pki.ts issues it). */
export function serverTlsName(datacenter: string): string {
  return `server.${datacenter}.consul`;
}

/** A server's Consul configuration: TLS everywhere, gossip encrypted, ACLs default deny. */
export function serverConfig(a: {
  plan: Pick<ClusterPlan, 'datacenter'>;
  server: ServerInfo;
  addresses: string[];
  gossip: string;
  management: string;
  agent: string;
  bootstrapExpect: number;
  federation?: FederationJoin & { replicationToken: string };
  /** A public endpoint: the HTTPS listener presents the ACME certificate (tls/https.*); RPC keeps Vault's. */
  httpsCertificate?: boolean;
}) {
  const f = a.federation;
  return {
    datacenter: a.plan.datacenter,
    ...(f ? { primary_datacenter: f.primaryDatacenter, retry_join_wan: f.wanJoin } : {}),
    server: true,
    bootstrap_expect: a.bootstrapExpect,
    retry_join: a.addresses.filter((ip) => ip !== a.server.address),
    encrypt: a.gossip,
    ports: { http: -1, https: CONSUL_HTTPS_PORT, grpc: -1, grpc_tls: CONSUL_GRPC_TLS_PORT, dns: -1 },
    tls: {
      defaults: {
        ca_file: 'tls/ca.pem',
        cert_file: 'tls/server.pem',
        key_file: 'tls/server.key',
        verify_incoming: false,
        verify_outgoing: true,
      },
      internal_rpc: { verify_incoming: true, verify_server_hostname: true },
      ...(a.httpsCertificate ? { https: { cert_file: 'tls/https.pem', key_file: 'tls/https.key' } } : {}),
    },
    acl: {
      enabled: true,
      default_policy: 'deny',
      down_policy: 'extend-cache',
      enable_token_persistence: true,
      ...(f ? { enable_token_replication: true } : {}),
      tokens: { initial_management: a.management, agent: a.agent, ...(f ? { replication: f.replicationToken } : {}) },
    },
    autopilot: { cleanup_dead_servers: true, server_stabilization_time: '3s' },
    // Consul's production timing (its default, 5, is sized for the smallest machines): leader
    // elections and failure detection five times faster.
    performance: { raft_multiplier: 1 },
    // Client agents get their RPC certificates from the servers (the servers verify them).
    auto_encrypt: { allow_tls: true },
    ui_config: { enabled: true },
  };
}

/**
 * A client agent's Consul configuration: joins the servers by the cluster's private DNS name (A
 * records to every server, kept current when a server is replaced or the cluster scaled, as HCS's
 * cloud auto-join followed the servers), TLS verified, ACLs default deny.
 */
export function clientConfig(a: { datacenter: string; privateFqdn: string; gossip: string }) {
  return {
    datacenter: a.datacenter,
    server: false,
    retry_join: [a.privateFqdn],
    encrypt: a.gossip,
    ports: { https: CONSUL_HTTPS_PORT },
    tls: { defaults: { ca_file: 'ca.pem', verify_outgoing: true }, internal_rpc: { verify_server_hostname: true } },
    auto_encrypt: { tls: true },
    acl: { enabled: true, default_policy: 'deny' },
  };
}

/**
 * What a client needs to join: consul config JSON for a client agent (joining by the servers'
 * private DNS name), the CA bundle and the consul-k8s Helm values (Consul Dataplane, the servers
 * by the cluster's DNS name).
 */
export function clientConfigDocument(a: {
  plan: Pick<ClusterPlan, 'datacenter' | 'fqdn' | 'privateFqdn'> & { publicEndpoint?: boolean };
  gossip: string;
  caBundlePem: string;
}): { clientConfigJson: string; caBundlePem: string; helmValuesYaml: string } {
  return {
    clientConfigJson: JSON.stringify(
      clientConfig({ datacenter: a.plan.datacenter, privateFqdn: planPrivateFqdn(a.plan), gossip: a.gossip }),
      null,
      2,
    ),
    caBundlePem: a.caBundlePem,
    // A public endpoint's name is its load balancer (HTTPS on 443 only): consul-k8s reaches the
    // servers by the private name, verifying the name the ACME certificate (HTTPS) and the
    // servers' own certificates (gRPC, activities/server-certificates.ts) both carry.
    helmValuesYaml: helmValuesYaml({
      datacenter: a.plan.datacenter,
      host: a.plan.publicEndpoint ? planPrivateFqdn(a.plan) : a.plan.fqdn,
      httpsPort: CONSUL_HTTPS_PORT,
      grpcTlsPort: CONSUL_GRPC_TLS_PORT,
      tlsServerName: a.plan.publicEndpoint ? a.plan.fqdn : serverTlsName(a.plan.datacenter),
      ...(a.plan.publicEndpoint ? { useSystemRoots: true } : {}),
    }),
  };
}
