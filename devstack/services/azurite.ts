// Azurite's blob service. Accounts and keys are ours (AZURITE_ACCOUNTS), not Azurite's
// well-known development key; --skipApiVersionCheck because today's @azure/storage-blob sends
// a newer x-ms-version than Azurite knows, and --loose for headers it does not model.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { httpCall } from '../../lib/http.js';
import type { Supervisor } from '../supervisor.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';

/** The names Azurite's TLS certificate holds (a script may make it before the stack starts). */
export const AZURITE_TLS_NAMES = ['127.0.0.1', 'localhost'];

export interface BlobEndpoint {
  /** Service URL including the account (path-style), e.g. http://127.0.0.1:10000/hcsdev */
  url: string;
  accountName: string;
  /** Shared key for local use; production uses managed identities, never account keys. */
  accountKey: string;
  /** CA of the emulator's TLS certificate. */
  caCertPem: string;
  caCertFile: string;
}

export interface StartAzuriteOptions {
  dataDir: string;
  accountName?: string;
}

export async function startAzurite(sup: Supervisor, options: StartAzuriteOptions): Promise<BlobEndpoint> {
  const accountName = options.accountName ?? 'hcsdev';
  mkdirSync(options.dataDir, { recursive: true });
  const keyFile = join(options.dataDir, 'account-key');
  if (!existsSync(keyFile)) writeFileSync(keyFile, randomBytes(64).toString('base64'), { mode: 0o600 });
  const accountKey = readFileSync(keyFile, 'utf8').trim();
  // HTTPS, because Azure AD bearer tokens (what VMs use with their managed identity) are only
  // accepted over TLS; clients trust the CA through configuration (NODE_EXTRA_CA_CERTS locally).
  const tls = ensureDevCertificate(join(options.dataDir, 'tls'), AZURITE_TLS_NAMES);
  return sup.startOnFreePorts(async (take) => {
    const port = await take('azurite-blob');
    const url = `https://127.0.0.1:${port}/${accountName}`;
    return {
      value: { url, accountName, accountKey, caCertPem: tls.caCertPem, caCertFile: tls.caCertFile },
      spec: {
        name: 'azurite',
        command: process.execPath,
        args: [
          join(repoRoot, 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js'),
          '--blobHost',
          '127.0.0.1',
          '--blobPort',
          String(port),
          '--location',
          options.dataDir,
          '--skipApiVersionCheck',
          '--loose',
          '--disableProductStyleUrl',
          '--disableTelemetry',
          '--cert',
          tls.certFile,
          '--key',
          tls.keyFile,
          // Bearer tokens are checked for issuer, audience and lifetime (not signature or RBAC).
          '--oauth',
          'basic',
        ],
        env: { AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
        // Any answer over TLS verified with our CA means it serves (the smoke test checks the key).
        probe: async () => void (await httpCall(`${url}?restype=service&comp=properties`, { ca: tls.caCertPem })),
      },
    };
  });
}
