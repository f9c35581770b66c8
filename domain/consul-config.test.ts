import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  clientConfig,
  clientConfigDocument,
  CONSUL_GRPC_TLS_PORT,
  CONSUL_HTTPS_PORT,
  serverConfig,
  serverTlsName,
} from './consul-config.js';

const base = {
  plan: { datacenter: 'dc-west' },
  server: { index: 0, name: 'consul-0', zone: '1', address: '10.0.0.4' },
  addresses: ['10.0.0.4', '10.0.0.5', '10.0.0.6'],
  gossip: 'Z29zc2lw',
  management: 'mgmt-secret',
  agent: 'agent-secret',
  bootstrapExpect: 3,
};

describe('serverConfig', () => {
  it('joins the other servers only, over TLS, with ACLs default deny and plain HTTP off', () => {
    const c = serverConfig(base);
    expect(c.datacenter).toBe('dc-west');
    expect(c.server).toBe(true);
    expect(c.bootstrap_expect).toBe(3);
    expect(c.retry_join).toEqual(['10.0.0.5', '10.0.0.6']);
    expect(c.encrypt).toBe('Z29zc2lw');
    expect(c.ports).toEqual({ http: -1, https: CONSUL_HTTPS_PORT, grpc: -1, grpc_tls: CONSUL_GRPC_TLS_PORT, dns: -1 });
    expect(CONSUL_HTTPS_PORT).toBe(8501);
    expect(CONSUL_GRPC_TLS_PORT).toBe(8503);
    expect(c.tls.defaults).toMatchObject({
      ca_file: 'tls/ca.pem',
      cert_file: 'tls/server.pem',
      key_file: 'tls/server.key',
      verify_outgoing: true,
    });
    expect(c.tls.internal_rpc).toEqual({ verify_incoming: true, verify_server_hostname: true });
    expect(c.acl).toEqual({
      enabled: true,
      default_policy: 'deny',
      down_policy: 'extend-cache',
      enable_token_persistence: true,
      tokens: { initial_management: 'mgmt-secret', agent: 'agent-secret' },
    });
    expect(c.auto_encrypt).toEqual({ allow_tls: true });
    // Production Raft timing, not Consul's slow-machine default of 5.
    expect(c.performance).toEqual({ raft_multiplier: 1 });
    expect('primary_datacenter' in c).toBe(false);
    expect('retry_join_wan' in c).toBe(false);
  });

  it("a secondary joins the primary's WAN pool and replicates ACLs with its replication token", () => {
    const c = serverConfig({
      ...base,
      federation: { primaryDatacenter: 'dc-east', wanJoin: ['10.1.0.4', '10.1.0.5'], replicationToken: 'repl-secret' },
    });
    expect(c).toMatchObject({ primary_datacenter: 'dc-east', retry_join_wan: ['10.1.0.4', '10.1.0.5'] });
    expect(c.acl).toMatchObject({
      enable_token_replication: true,
      tokens: { initial_management: 'mgmt-secret', agent: 'agent-secret', replication: 'repl-secret' },
    });
  });

  it("a public endpoint's HTTPS listener presents the ACME certificate; RPC and gRPC keep the cluster CA's", () => {
    const c = serverConfig({ ...base, httpsCertificate: true });
    expect(c.tls).toEqual({ ...serverConfig(base).tls, https: { cert_file: 'tls/https.pem', key_file: 'tls/https.key' } });
    expect(c.tls.defaults.cert_file).toBe('tls/server.pem');
    expect(serverConfig(base).tls).not.toHaveProperty('https');
  });
});

describe('clientConfigDocument', () => {
  const doc = clientConfigDocument({
    plan: { datacenter: 'dc-west', fqdn: 'c0ffee.consul.example.net', privateFqdn: 'c0ffee.private.consul.example.net' },
    gossip: 'Z29zc2lw',
    caBundlePem: '-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n',
  });

  it('holds a client agent configuration that joins the servers by their private DNS name over HTTPS with TLS verified', () => {
    expect(JSON.parse(doc.clientConfigJson)).toEqual({
      datacenter: 'dc-west',
      server: false,
      retry_join: ['c0ffee.private.consul.example.net'],
      encrypt: 'Z29zc2lw',
      ports: { https: 8501 },
      tls: { defaults: { ca_file: 'ca.pem', verify_outgoing: true }, internal_rpc: { verify_server_hostname: true } },
      auto_encrypt: { tls: true },
      acl: { enabled: true, default_policy: 'deny' },
    });
    expect(doc.clientConfigJson).toBe(
      JSON.stringify(
        clientConfig({ datacenter: 'dc-west', privateFqdn: 'c0ffee.private.consul.example.net', gossip: 'Z29zc2lw' }),
        null,
        2,
      ),
    );
  });

  it('a plan recorded before privateFqdn existed joins by the name derived from its fqdn', () => {
    const old = clientConfigDocument({
      plan: { datacenter: 'dc-west', fqdn: 'c0ffee.consul.example.net' },
      gossip: 'Z29zc2lw',
      caBundlePem: 'pem',
    });
    expect((JSON.parse(old.clientConfigJson) as { retry_join: string[] }).retry_join).toEqual(['c0ffee.private.consul.example.net']);
  });

  it("a public endpoint's Helm values reach the servers by the private name and verify the public name, HTTPS against the public roots", () => {
    const pub = clientConfigDocument({
      plan: { datacenter: 'dc-west', fqdn: 'c0ffee.consul.example.net', publicEndpoint: true },
      gossip: 'Z29zc2lw',
      caBundlePem: 'pem',
    });
    expect((parse(pub.helmValuesYaml) as { externalServers: unknown }).externalServers).toEqual({
      enabled: true,
      hosts: ['c0ffee.private.consul.example.net'],
      httpsPort: CONSUL_HTTPS_PORT,
      grpcPort: CONSUL_GRPC_TLS_PORT,
      tlsServerName: 'c0ffee.consul.example.net',
      useSystemRoots: true,
    });
  });

  it('passes the CA bundle through and carries the Helm values for the same cluster (by its DNS name) and ports', () => {
    expect(doc.caBundlePem).toContain('BEGIN CERTIFICATE');
    expect(parse(doc.helmValuesYaml)).toMatchObject({
      global: { datacenter: 'dc-west' },
      externalServers: {
        hosts: ['c0ffee.consul.example.net'],
        httpsPort: CONSUL_HTTPS_PORT,
        grpcPort: CONSUL_GRPC_TLS_PORT,
        tlsServerName: serverTlsName('dc-west'),
      },
    });
    expect(serverTlsName('dc-west')).toBe('server.dc-west.consul');
  });
});
