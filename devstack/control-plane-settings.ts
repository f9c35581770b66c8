// The settings of the local control plane's processes, built once for both topologies: the
// embedded process of `npm start` (API and worker in one) and the separate API replicas and
// workers of `npm run start:ha`. The local credentials (an admin operator token, the payload keys,
// the API's TLS certificate) are made on first use and kept in the state folder, so a restarted
// stack can still read the history of earlier workflows.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex, type AuthConfig } from '../apps/api/src/auth.js';
import { ensureDevCertificate, type DevCertificate } from '../lib/dev-tls.js';
import { localLifecycleConfig } from './lifecycle.js';
import { temporalServerEnv } from './services/temporal-server.js';
import type { StackEndpoints } from './stack.js';

export interface LocalControlPlaneSettings {
  /** The local admin operator token (all subscriptions). */
  adminToken: string;
  /** The API's TLS certificate (names localhost and 127.0.0.1) and its CA. */
  tls: DevCertificate;
  /** The payload encryption keys' file (owner-only), `id:base64key`. */
  payloadKeysFile: string;
  /**
   * The environment of one process: `api` runs the API on these ports, `worker` the worker with
   * this Terraform work folder (each worker process needs a folder of its own).
   */
  env(parts: { api?: { restPort: number; grpcPort: number }; worker?: { workRoot: string } }): Record<string, string>;
}

/** The settings for the stack `e`, credentials kept under `<e.dataDir>/api`. */
export function localControlPlaneSettings(e: StackEndpoints): LocalControlPlaneSettings {
  const dir = join(e.dataDir, 'api');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokenFile = join(dir, 'admin-token');
  if (!existsSync(tokenFile)) writeFileSync(tokenFile, `hcsop_${randomBytes(24).toString('base64url')}`, { mode: 0o600 });
  const adminToken = readFileSync(tokenFile, 'utf8').trim();
  // The Temporal payload encryption key of this local installation (kept across restarts, or
  // the history of earlier workflows could not be read).
  const payloadKeysFile = join(dir, 'payload-keys');
  if (!existsSync(payloadKeysFile)) writeFileSync(payloadKeysFile, `local-1:${randomBytes(32).toString('base64')}`, { mode: 0o600 });
  const tls = ensureDevCertificate(join(dir, 'tls'));
  const auth: AuthConfig = {
    armCertificateThumbprints: [],
    jwtIssuers: [],
    operatorTokens: [{ name: 'local-admin', sha256: sha256Hex(adminToken), role: 'admin', subscriptions: '*' }],
  };
  const t = e.temporal;
  const shared: Record<string, string> = {
    // The production server: address, namespace and the mutual-TLS files; the dev server: plaintext on loopback.
    ...('tls' in t ? temporalServerEnv(t) : { HCS_TEMPORAL_ADDRESS: t.address, HCS_TEMPORAL_NAMESPACE: t.namespace }),
    HCS_DATABASE: JSON.stringify(e.database),
    HCS_CONSUL_CATALOGUE: JSON.stringify(
      e.tools.consulVersions.map((v, i, all) => ({ version: v, status: i === all.length - 1 ? 'RECOMMENDED' : 'AVAILABLE' })),
    ),
    HCS_PAYLOAD_KEYS_FILE: payloadKeysFile,
    NODE_EXTRA_CA_CERTS: e.caBundleFile,
  };
  return {
    adminToken,
    tls,
    payloadKeysFile,
    env: ({ api, worker }) => ({
      ...shared,
      ...(api
        ? {
            HCS_AUTH: JSON.stringify(auth),
            HCS_API_PORT: String(api.restPort),
            HCS_GRPC_PORT: String(api.grpcPort),
            HCS_API_TLS_CERT_FILE: tls.certFile,
            HCS_API_TLS_KEY_FILE: tls.keyFile,
            // The dev server's Temporal UI calls /codec from the SRE's browser.
            ...('uiUrl' in t && t.uiUrl ? { HCS_CODEC_CORS_ORIGINS: new URL(t.uiUrl).origin } : {}),
          }
        : {}),
      ...(worker ? { HCS_LIFECYCLE: JSON.stringify(localLifecycleConfig(e, { workRoot: worker.workRoot })) } : {}),
    }),
  };
}
