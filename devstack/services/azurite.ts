// Azurite's blob service. Accounts and keys are ours (AZURITE_ACCOUNTS), not Azurite's
// well-known development key; --skipApiVersionCheck because today's @azure/storage-blob sends
// a newer x-ms-version than Azurite knows, and --loose for headers it does not model.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { freePort, type Supervisor } from '../supervisor.js';

export interface BlobEndpoint {
  /** Service URL including the account (path-style), e.g. http://127.0.0.1:10000/hcsdev */
  url: string;
  accountName: string;
  /** Shared key for local use; production uses managed identities, never account keys. */
  accountKey: string;
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
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/${accountName}`;
  // One try per probe round: the supervisor's probe loop does the retrying.
  const client = new BlobServiceClient(url, new StorageSharedKeyCredential(accountName, accountKey), { retryOptions: { maxTries: 1 } });
  await sup.start({
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
    ],
    env: { AZURITE_ACCOUNTS: `${accountName}:${accountKey}` },
    // A signed call with our key: proves the account exists and the key is accepted.
    probe: async () => void (await client.getProperties({ abortSignal: AbortSignal.timeout(2_000) })),
  });
  return { url, accountName, accountKey };
}
