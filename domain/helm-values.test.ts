import { describe, expect, it } from 'vitest';
import { helmValuesYaml } from './helm-values.js';

describe('helmValuesYaml', () => {
  const yaml = helmValuesYaml({ datacenter: 'dc-west', serverAddresses: ['10.0.0.4', '10.0.0.5'], httpsPort: 8501 });
  const lines = yaml.split('\n');

  it('turns the chart off except for client agents, with TLS, gossip encryption and managed ACLs', () => {
    expect(lines.slice(0, 3)).toEqual(['global:', '  enabled: false', '  datacenter: dc-west']);
    expect(yaml).toContain('  tls:\n    enabled: true\n    caCert:\n      secretName: consul-ca-cert\n      secretKey: tls.crt\n');
    expect(yaml).toContain('  gossipEncryption:\n    secretName: consul-gossip-key\n    secretKey: key\n');
    expect(yaml).toContain(
      '  acls:\n    manageSystemACLs: true\n    bootstrapToken:\n      secretName: consul-bootstrap-token\n      secretKey: token\n',
    );
    expect(yaml).toContain('client:\n  enabled: true\n  join:\n    - "10.0.0.4"\n    - "10.0.0.5"\n');
  });

  it('names the servers as external servers, with the HTTPS port and the TLS server name of the datacenter', () => {
    expect(yaml).toContain(
      'externalServers:\n  enabled: true\n  hosts:\n    - "10.0.0.4"\n    - "10.0.0.5"\n  httpsPort: 8501\n  tlsServerName: server.dc-west.consul\n',
    );
  });

  it('ends with a newline and quotes each address (YAML never reads it as a number)', () => {
    expect(yaml.endsWith('\n')).toBe(true);
    expect(lines.filter((l) => l.startsWith('    - ')).every((l) => /^ {4}- "[^"]+"$/.test(l))).toBe(true);
  });
});
