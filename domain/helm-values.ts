// The consul-k8s Helm values a customer's Kubernetes cluster uses to join a managed cluster as
// client agents (external servers, TLS, gossip encryption, ACLs): pure text rendering.

/** The values file; Kubernetes secrets hold the CA, gossip key and bootstrap token under the names given here. */
export function helmValuesYaml(a: { datacenter: string; serverAddresses: string[]; httpsPort: number }): string {
  const hosts = a.serverAddresses.map((h) => `    - ${JSON.stringify(h)}`);
  return [
    'global:',
    '  enabled: false',
    `  datacenter: ${a.datacenter}`,
    '  tls:',
    '    enabled: true',
    '    caCert:',
    '      secretName: consul-ca-cert',
    '      secretKey: tls.crt',
    '  gossipEncryption:',
    '    secretName: consul-gossip-key',
    '    secretKey: key',
    '  acls:',
    '    manageSystemACLs: true',
    '    bootstrapToken:',
    '      secretName: consul-bootstrap-token',
    '      secretKey: token',
    'externalServers:',
    '  enabled: true',
    '  hosts:',
    ...hosts,
    `  httpsPort: ${a.httpsPort}`,
    `  tlsServerName: server.${a.datacenter}.consul`,
    'client:',
    '  enabled: true',
    '  join:',
    ...hosts,
    '',
  ].join('\n');
}
