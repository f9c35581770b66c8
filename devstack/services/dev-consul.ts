// A single real Consul agent in dev mode on 127.0.0.1: HTTPS only (its own dev CA), ACLs with
// default deny and a management token we choose. For tests and benchmarks that need a Consul
// API and nothing of the product around it.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpCall } from '../../lib/http.js';
import { freePort, type Supervisor } from '../supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';

export interface DevConsulEndpoint {
  /** https://127.0.0.1:<port> */
  url: string;
  caPem: string;
  /** The initial management token. */
  token: string;
}

export async function startDevConsul(
  sup: Supervisor,
  o: { name: string; binary: string; dir: string; /** Default: a fresh UUID. */ token?: string },
): Promise<DevConsulEndpoint> {
  mkdirSync(o.dir, { recursive: true });
  const tls = ensureDevCertificate(join(o.dir, 'tls'), ['server.dc1.consul', '127.0.0.1', 'localhost']);
  const configFile = join(o.dir, 'consul.json');
  const token = o.token ?? randomUUID();
  return sup.startOnFreePorts(async () => {
    const [https, serfLan, serfWan, server] = [await freePort(), await freePort(), await freePort(), await freePort()];
    writeFileSync(
      configFile,
      JSON.stringify({
        bind_addr: '127.0.0.1',
        client_addr: '127.0.0.1',
        ports: { http: -1, https, serf_lan: serfLan, serf_wan: serfWan, server, dns: -1, grpc: -1, grpc_tls: -1 },
        tls: { defaults: { ca_file: tls.caCertFile, cert_file: tls.certFile, key_file: tls.keyFile, verify_incoming: false } },
        acl: { enabled: true, default_policy: 'deny', tokens: { initial_management: token } },
      }),
    );
    const endpoint = { url: `https://127.0.0.1:${https}`, caPem: tls.caCertPem, token };
    return {
      value: endpoint,
      spec: {
        name: o.name,
        command: o.binary,
        args: ['agent', '-dev', '-config-file', configFile],
        // Ready once a leader has made our management token (ACLs enforced from then on).
        probe: async () => {
          const self = await httpCall(`${endpoint.url}/v1/acl/token/self`, { ca: endpoint.caPem, headers: { 'x-consul-token': token } });
          if (self.status !== 200) throw new Error(`management token not usable yet (${self.status})`);
        },
      },
    };
  });
}
