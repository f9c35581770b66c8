// The local Azure Resource Manager twin (apps/local-cloud) as a supervised service. Readiness is
// a real round trip: a client-credentials token from the twin's token endpoint, then an ARM call
// with it, over HTTPS verified against the twin's own CA.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LocalCloudEndpointFile } from '../../apps/local-cloud/src/main.js';
import type { InstanceCommand } from '../../apps/local-cloud/src/server.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { expectStatus, httpCall } from '../../lib/http.js';
import type { Supervisor } from '../supervisor.js';

export interface LocalCloudEndpoint {
  /** ARM endpoint and token authority (`authorityHost`) in one. */
  url: string;
  tenantId: string;
  subscriptionId: string;
  /** The control plane's service principal (client credentials). */
  clientId: string;
  clientSecret: string;
  /** The same principal by the App Service managed-identity protocol (IDENTITY_ENDPOINT / IDENTITY_HEADER). */
  controlPlaneIdentity: { endpoint: string; header: string };
  caCertPem: string;
  caCertFile: string;
}

export interface StartLocalCloudOptions {
  dataDir: string;
  /** What every scale-set instance runs (host-manager); default: an idle process. */
  instanceCommand?: InstanceCommand;
  /** CA bundle the twin and its instances trust besides the twin's own (the storage emulator's). */
  trustCaFile?: string;
  /** Test-only: the twin's fault-injection admin API (chaos runs); never for `npm start`. */
  faultInjection?: boolean;
}

export async function startLocalCloudService(sup: Supervisor, options: StartLocalCloudOptions): Promise<LocalCloudEndpoint> {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const endpointFile = join(options.dataDir, 'endpoint.json');
  let endpoint: LocalCloudEndpoint | undefined;
  await sup.startOnFreePorts(async (take) => {
    const port = await take('local-cloud');
    const url = `https://127.0.0.1:${port}`;
    // The probe waits for this run's endpoint file.
    rmSync(endpointFile, { force: true });
    return {
      value: undefined,
      spec: {
        name: 'local-cloud',
        command: process.execPath,
        args: ['--import', 'tsx', join(repoRoot, 'apps', 'local-cloud', 'src', 'main.ts')],
        env: {
          HCS_LOCAL_CLOUD_DATA_DIR: options.dataDir,
          HCS_LOCAL_CLOUD_PORT: String(port),
          ...(options.trustCaFile ? { NODE_EXTRA_CA_CERTS: options.trustCaFile } : {}),
          ...(options.instanceCommand ? { HCS_LOCAL_CLOUD_INSTANCE_COMMAND: JSON.stringify(options.instanceCommand) } : {}),
          ...(options.faultInjection ? { HCS_LOCAL_CLOUD_FAULT_INJECTION: '1' } : {}),
        },
        readyTimeoutMs: 60_000,
        // Stopping waits for every instance process to stop first.
        stopTimeoutMs: 20_000,
        probe: async () => {
          if (!existsSync(endpointFile)) throw new Error('endpoint.json not written yet');
          const e = JSON.parse(readFileSync(endpointFile, 'utf8')) as LocalCloudEndpointFile;
          const { clientSecret, identityHeader } = JSON.parse(readFileSync(e.credentialsFile, 'utf8')) as {
            clientSecret: string;
            identityHeader: string;
          };
          const caCertPem = readFileSync(e.caCertFile, 'utf8');
          const token = await httpCall(`${url}/${e.tenantId}/oauth2/v2.0/token`, {
            method: 'POST',
            ca: caCertPem,
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({
              grant_type: 'client_credentials',
              client_id: e.clientId,
              client_secret: clientSecret,
              scope: 'https://management.azure.com/.default',
            }).toString(),
          });
          if (token.status !== 200) throw new Error(`token endpoint answered ${token.status}`);
          const { access_token } = JSON.parse(token.body) as { access_token: string };
          await expectStatus(`${url}/subscriptions/${e.subscriptionId}/resourcegroups?api-version=2021-04-01`, [200], {
            ca: caCertPem,
            headers: { authorization: `Bearer ${access_token}` },
          });
          endpoint = {
            url,
            tenantId: e.tenantId,
            subscriptionId: e.subscriptionId,
            clientId: e.clientId,
            clientSecret,
            controlPlaneIdentity: { endpoint: `${url}/msi/token`, header: identityHeader },
            caCertPem,
            caCertFile: e.caCertFile,
          };
        },
      },
    };
  });
  return endpoint!;
}

// The twin keeps its port across restarts when it can, so URLs handed out earlier (operation
// status links in saved pollers, configured endpoints) keep working, as Azure's do.
