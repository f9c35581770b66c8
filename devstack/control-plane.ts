// Starts our own control plane (API + worker in one process) under the supervisor for `npm start`,
// with the stack's endpoints and the local credentials of control-plane-settings.ts (the same
// settings the HA topology's separate processes get).
import { join } from 'node:path';
import { repoRoot } from '../scripts/toolchain.mjs';
import { expectStatus } from '../lib/http.js';
import { localControlPlaneSettings } from './control-plane-settings.js';
import type { StackEndpoints } from './stack.js';
import type { Supervisor } from './supervisor.js';

export interface ControlPlaneEndpoints {
  restUrl: string;
  grpcAddress: string;
  caCertFile: string;
  adminToken: string;
}

/** The named port of the API's REST listener (the Temporal UI's codec endpoint is on it). */
export const API_REST_PORT = 'api-rest';

export async function startControlPlane(sup: Supervisor, e: StackEndpoints): Promise<ControlPlaneEndpoints> {
  const settings = localControlPlaneSettings(e);
  return sup.startOnFreePorts(async (take) => {
    const [restPort, grpcPort] = [await take(API_REST_PORT), await take('api-grpc')];
    const restUrl = `https://127.0.0.1:${restPort}`;
    const endpoints = {
      restUrl,
      grpcAddress: `127.0.0.1:${grpcPort}`,
      caCertFile: settings.tls.caCertFile,
      adminToken: settings.adminToken,
    };
    return {
      value: endpoints,
      spec: {
        name: 'control-plane',
        command: process.execPath,
        args: ['--import', 'tsx', join(repoRoot, 'apps', 'control-plane', 'src', 'embedded-main.ts')],
        env: settings.env({ api: { restPort, grpcPort }, worker: { workRoot: join(e.dataDir, 'terraform-work') } }),
        readyTimeoutMs: 120_000,
        probe: async () => void (await expectStatus(`${restUrl}/healthz`, [200], { ca: settings.tls.caCertPem })),
      },
    };
  });
}
