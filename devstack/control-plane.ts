// Starts our own control plane (API + worker) under the supervisor for `npm start`, with the
// stack's endpoints, a TLS certificate and an admin operator token for local use.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex, type AuthConfig } from '../apps/api/src/auth.js';
import { repoRoot } from '../scripts/toolchain.mjs';
import { expectStatus } from '../lib/http.js';
import { localLifecycleConfig } from './lifecycle.js';
import type { StackEndpoints } from './stack.js';
import type { Supervisor } from './supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';

export interface ControlPlaneEndpoints {
  restUrl: string;
  grpcAddress: string;
  caCertFile: string;
  adminToken: string;
}

export async function startControlPlane(sup: Supervisor, e: StackEndpoints): Promise<ControlPlaneEndpoints> {
  const dir = join(e.dataDir, 'api');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokenFile = join(dir, 'admin-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, `hcsop_${randomBytes(24).toString('base64url')}`, { mode: 0o600 });
  const adminToken = readFileSync(tokenFile, 'utf8').trim();
  // The Temporal payload encryption key of this local installation (kept across restarts, or
  // the history of earlier workflows could not be read).
  const keyFile = join(dir, 'payload-keys');
  if (!existsSync(keyFile)) writeFileSync(keyFile, `local-1:${randomBytes(32).toString('base64')}`, { mode: 0o600 });
  const tls = ensureDevCertificate(join(dir, 'tls'));
  const auth: AuthConfig = {
    armCertificateThumbprints: [],
    jwtIssuers: [],
    operatorTokens: [{ name: 'local-admin', sha256: sha256Hex(adminToken), role: 'admin', subscriptions: '*' }],
  };
  const [restPort, grpcPort] = [await sup.port('api-rest'), await sup.port('api-grpc')];
  const restUrl = `https://127.0.0.1:${restPort}`;
  await sup.start({
    name: 'control-plane',
    command: process.execPath,
    args: ['--import', 'tsx', join(repoRoot, 'apps', 'control-plane', 'src', 'embedded-main.ts')],
    env: {
      HCS_TEMPORAL_ADDRESS: e.temporal.address,
      HCS_TEMPORAL_NAMESPACE: e.temporal.namespace,
      HCS_DATABASE: JSON.stringify(e.database),
      HCS_AUTH: JSON.stringify(auth),
      HCS_CONSUL_CATALOGUE: JSON.stringify(
        e.tools.consulVersions.map((v, i, all) => ({ version: v, status: i === all.length - 1 ? 'RECOMMENDED' : 'AVAILABLE' })),
      ),
      HCS_API_PORT: String(restPort),
      HCS_GRPC_PORT: String(grpcPort),
      HCS_API_TLS_CERT_FILE: tls.certFile,
      HCS_API_TLS_KEY_FILE: tls.keyFile,
      HCS_PAYLOAD_KEYS_FILE: keyFile,
      HCS_LIFECYCLE: JSON.stringify(localLifecycleConfig(e, { workRoot: join(e.dataDir, 'terraform-work') })),
      NODE_EXTRA_CA_CERTS: e.caBundleFile,
    },
    readyTimeoutMs: 120_000,
    probe: async () => void (await expectStatus(`${restUrl}/healthz`, [200], { ca: tls.caCertPem })),
  });
  return { restUrl, grpcAddress: `127.0.0.1:${grpcPort}`, caCertFile: tls.caCertFile, adminToken };
}
