import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { clientConfigDocument } from './consul-config.js';
import { helmKeyPaths, parseKeyList, undocumentedKeys } from '../scripts/helm-key-paths.js';
import { HELM_SECRETS, helmValues, helmValuesYaml } from './helm-values.js';

// The keys consul-k8s documents (scripts/consul-k8s-values-keys.ts made the list from the chart's values.yaml).
const fixture = readFileSync(new URL('../test/fixtures/consul-k8s-values-keys.txt', import.meta.url), 'utf8');
const documented = parseKeyList(fixture);

const input = {
  datacenter: 'dc-west',
  host: 'c0ffee.consul.example.net',
  httpsPort: 8501,
  grpcTlsPort: 8503,
  tlsServerName: 'server.dc-west.consul',
};
const yamlText = helmValuesYaml(input);
const parsed: unknown = parse(yamlText);

describe('the documented key list', () => {
  it('is the consul-k8s 1.x chart list, with the keys the external-server values need', () => {
    expect(fixture).toMatch(/^# Key paths documented by the consul-k8s Helm chart 1\.\d+\.\d+:/);
    expect(documented.size).toBeGreaterThan(500);
    for (const k of ['externalServers.hosts', 'externalServers.grpcPort', 'externalServers.tlsServerName', 'global.tls.caCert.secretKey'])
      expect(documented.has(k), k).toBe(true);
    // Comment lines are not keys.
    expect([...documented].some((k) => k.startsWith('#'))).toBe(false);
  });
});

describe('helmValuesYaml', () => {
  it('parses back to the values, and every key path is one the chart documents', () => {
    expect(parsed).toEqual(helmValues(input));
    expect(helmKeyPaths(parsed)).toContain('externalServers.grpcPort');
    expect(undocumentedKeys(parsed, documented)).toEqual([]);
  });

  it('uses Consul Dataplane: no servers or client agents in Kubernetes, connect-inject on, everything else opt-in', () => {
    expect(parsed).toMatchObject({
      global: { enabled: false, name: 'consul', datacenter: 'dc-west' },
      server: { enabled: false },
      client: { enabled: false },
      connectInject: { enabled: true },
    });
    expect(helmKeyPaths(parsed).filter((p) => p.startsWith('client.'))).toEqual(['client.enabled']);
  });

  it('names the servers by the one DNS name, with the HTTPS and gRPC TLS ports and the TLS server name', () => {
    expect((parsed as { externalServers: unknown }).externalServers).toEqual({
      enabled: true,
      hosts: ['c0ffee.consul.example.net'],
      httpsPort: 8501,
      grpcPort: 8503,
      tlsServerName: 'server.dc-west.consul',
    });
  });

  it('turns TLS and managed ACLs on with the CA and the bootstrap token as Kubernetes secret references', () => {
    expect((parsed as { global: unknown }).global).toMatchObject({
      tls: { enabled: true, caCert: { secretName: 'consul-ca-cert', secretKey: 'tls.crt' } },
      acls: { manageSystemACLs: true, bootstrapToken: { secretName: 'consul-bootstrap-token', secretKey: 'token' } },
    });
    expect(HELM_SECRETS.bootstrapToken).toEqual({ secretName: 'consul-bootstrap-token', secretKey: 'token' });
    // The comment on top says how to make the secrets the values name.
    expect(yamlText).toContain('# Create the secrets first');
    expect(yamlText).toContain('kubectl create secret generic consul-bootstrap-token --from-literal=token=<secretId of createRootToken>');
  });

  it('keeps strings strings where YAML would read another type', () => {
    const odd = parse(helmValuesYaml({ ...input, datacenter: '1e3', host: 'true', tlsServerName: 'null' })) as ReturnType<
      typeof helmValues
    >;
    expect(odd.global.datacenter).toBe('1e3');
    expect(odd.externalServers.hosts).toEqual(['true']);
    expect(odd.externalServers.tlsServerName).toBe('null');
  });
});

describe('the Helm values in the client configuration document', () => {
  const gossip = 'Z29zc2lwLWtleS1ub3QtZm9yLWhlbG0=';
  const doc = clientConfigDocument({
    plan: { datacenter: 'dc-east', fqdn: 'beef01.consul.example.net' },
    gossip,
    caBundlePem: '-----BEGIN CERTIFICATE-----\nMIIBcluster\n-----END CERTIFICATE-----\n',
  });
  const values = parse(doc.helmValuesYaml) as ReturnType<typeof helmValues>;

  it('point at the cluster DNS name (not the addresses), the ports the servers open and the name their certificates carry', () => {
    expect(values.externalServers).toEqual({
      enabled: true,
      hosts: ['beef01.consul.example.net'],
      httpsPort: 8501,
      grpcPort: 8503,
      tlsServerName: 'server.dc-east.consul',
    });
    expect(doc.helmValuesYaml).not.toContain('10.0.0.4');
    expect(undocumentedKeys(values, documented)).toEqual([]);
  });

  it('hold no secret material: no gossip key, no CA or token inlined, only secret names and keys', () => {
    expect(doc.helmValuesYaml).not.toContain(gossip);
    expect(doc.helmValuesYaml).not.toContain('BEGIN CERTIFICATE');
    expect(doc.helmValuesYaml).not.toMatch(/gossip/i);
    // Every leaf under a secret reference is a secret name or key, nothing else.
    const secretish = helmKeyPaths(values).filter((p) => /token|secret|cert|key/i.test(p.split('.').at(-1)!));
    expect(secretish.sort()).toEqual(
      [
        'global.acls.bootstrapToken',
        'global.acls.bootstrapToken.secretKey',
        'global.acls.bootstrapToken.secretName',
        'global.tls.caCert',
        'global.tls.caCert.secretKey',
        'global.tls.caCert.secretName',
      ].sort(),
    );
  });
});

describe('undocumentedKeys (the checker)', () => {
  it('catches a key the chart does not document, at any depth, and a misspelt one', () => {
    const values = helmValues(input) as Record<string, unknown>;
    const bad = {
      ...values,
      externalServers: { ...(values.externalServers as object), grpcTlsPort: 8503 },
      global: { ...(values.global as object), acls: { bootstrapToken: { secretName: 'x', secretKey: 'y', value: 'z' } } },
      connectInject: { enable: true },
      gossip: {},
    };
    expect(undocumentedKeys(bad, documented)).toEqual([
      'connectInject.enable',
      'externalServers.grpcTlsPort',
      'global.acls.bootstrapToken.value',
      'gossip',
    ]);
  });

  it('refuses a key with a dot in it (its path would be ambiguous) and treats lists as leaves', () => {
    expect(() => helmKeyPaths({ global: { 'tls.enabled': true } })).toThrow('the key "tls.enabled" under "global" has a dot');
    expect(helmKeyPaths({ externalServers: { hosts: [{ nested: 1 }] } })).toEqual(['externalServers', 'externalServers.hosts']);
  });
});
