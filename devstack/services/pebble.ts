// Pebble (an ACME server for tests) with pebble-challtestsrv as its DNS server, so DNS-01
// challenges are answered from TXT records our DNS provider writes into challtestsrv.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectStatus, httpCall } from '../../lib/http.js';
import type { Supervisor } from '../supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';

export interface AcmeEndpoint {
  /** ACME directory URL. */
  directoryUrl: string;
  /** CA that signed Pebble's own HTTPS certificate (to trust the ACME API). */
  apiCaCertPem: string;
  /** Pebble management API (its issuing roots are at /roots/0). */
  managementUrl: string;
  /** challtestsrv management API (set-txt, clear-txt, add-a, ...). */
  dnsManagementUrl: string;
  /** The DNS server Pebble resolves through, host:port (UDP/TCP). */
  dnsAddress: string;
  /**
   * A file with the root Pebble issues under (made anew at each start), which the worker trusts
   * on public endpoints as production trusts the public roots.
   */
  issuerRootFile: string;
}

export interface StartPebbleOptions {
  pebbleBinary: string;
  challtestsrvBinary: string;
  dataDir: string;
}

export async function startPebble(sup: Supervisor, options: StartPebbleOptions): Promise<AcmeEndpoint> {
  const { dnsPort, dnsManagementUrl } = await sup.startOnFreePorts(async (take) => {
    const [dnsPort, dnsMgmtPort] = [await take('pebble-dns'), await take('pebble-dns-management')];
    const dnsManagementUrl = `http://127.0.0.1:${dnsMgmtPort}`;
    return {
      value: { dnsPort, dnsManagementUrl },
      spec: {
        name: 'challtestsrv',
        command: options.challtestsrvBinary,
        args: [
          '-management',
          `127.0.0.1:${dnsMgmtPort}`,
          '-dns01',
          `127.0.0.1:${dnsPort}`,
          '-http01',
          '',
          '-https01',
          '',
          '-tlsalpn01',
          '',
          // No default answer: a name resolves only while it has records, as in a real zone, so a
          // deleted cluster's name really stops resolving.
          '-defaultIPv4',
          '',
          '-defaultIPv6',
          '',
        ],
        // A real management call: clearing a record that does not exist answers 200.
        probe: async () =>
          void (await expectStatus(`${dnsManagementUrl}/clear-txt`, [200], {
            method: 'POST',
            body: JSON.stringify({ host: '_probe.invalid.' }),
          })),
      },
    };
  });

  const tls = ensureDevCertificate(join(options.dataDir, 'tls'));
  const configFile = join(options.dataDir, 'pebble-config.json');
  const { directoryUrl, managementUrl } = await sup.startOnFreePorts(async (take) => {
    const [acmePort, mgmtPort] = [await take('pebble-acme'), await take('pebble-management')];
    writeFileSync(
      configFile,
      JSON.stringify({
        pebble: {
          listenAddress: `127.0.0.1:${acmePort}`,
          managementListenAddress: `127.0.0.1:${mgmtPort}`,
          certificate: tls.certFile,
          privateKey: tls.keyFile,
          httpPort: 5002,
          tlsPort: 5001,
          ocspResponderURL: '',
          externalAccountBindingRequired: false,
        },
      }),
    );
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    return {
      value: { directoryUrl, managementUrl: `https://127.0.0.1:${mgmtPort}` },
      spec: {
        name: 'pebble',
        command: options.pebbleBinary,
        args: ['-config', configFile, '-dnsserver', `127.0.0.1:${dnsPort}`],
        // No artificial validation delays, no random nonce rejections: tests stay fast and exact.
        env: { PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_VA_ALWAYS_VALID: '0' },
        probe: async () => void (await expectStatus(directoryUrl, [200], { ca: tls.caCertPem })),
      },
    };
  });
  const issuerRootFile = join(options.dataDir, 'pebble-issuer-root.pem');
  writeFileSync(issuerRootFile, await pebbleRootPem({ managementUrl, apiCaCertPem: tls.caCertPem }));
  return { directoryUrl, apiCaCertPem: tls.caCertPem, managementUrl, dnsManagementUrl, dnsAddress: `127.0.0.1:${dnsPort}`, issuerRootFile };
}

/** Pebble's current issuing root, to verify certificates it issued. */
export async function pebbleRootPem(acme: Pick<AcmeEndpoint, 'managementUrl' | 'apiCaCertPem'>): Promise<string> {
  const res = await httpCall(`${acme.managementUrl}/roots/0`, { ca: acme.apiCaCertPem });
  if (res.status !== 200) throw new Error(`Pebble roots answered ${res.status}`);
  return res.body;
}
