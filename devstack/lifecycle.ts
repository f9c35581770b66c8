// The worker's lifecycle configuration for the local stack: Vault, Azurite, the ARM twin,
// terraform from the tool cache, challtestsrv for DNS and Pebble for ACME. `npm start` and the
// end-to-end tests use this; production writes the same JSON with real endpoints. The secrets
// (Vault token, Azurite's account key, the twin's client secret) go to owner-only files in the
// state folder's `secrets/`, which the configuration names.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LifecycleConfig } from '../apps/worker/src/lifecycle-config.js';
import { repoRoot } from '../scripts/toolchain.mjs';
import type { StackEndpoints } from './stack.js';

/** Any OpenSSH public key: the twin's instances are local processes and never use it. */
const UNUSED_SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb0Ykx8H2dXv8bZrXoWQkq3n2dN1o8t3e8p9k4w5r6s hcs-local';

export function localLifecycleConfig(
  e: StackEndpoints,
  o: { workRoot: string; serverCertTtlHours?: number; healthTimeoutSeconds?: number },
): LifecycleConfig {
  // Terraform state: PostgreSQL when the store is PostgreSQL, else state files beside the data.
  const acmeCaFile = join(e.dataDir, 'pebble-api-ca.pem');
  writeFileSync(acmeCaFile, e.acme.apiCaCertPem);
  const secrets = join(e.dataDir, 'secrets');
  const backend =
    e.database.kind === 'postgres'
      ? { kind: 'pg' as const, connStrFile: writeSecretFile(secrets, 'terraform-state-conn', withSslDisabled(e.database.url)) }
      : { kind: 'local' as const, dir: join(e.dataDir, 'terraform-state') };
  return {
    vault: {
      address: e.vault.address,
      tokenFile: writeSecretFile(secrets, 'vault-token', e.vault.token),
      pkiMount: e.vault.pkiMount,
      transitMount: e.vault.transitMount,
    },
    blob: {
      url: e.blob.url,
      accountName: e.blob.accountName,
      accountKeyFile: writeSecretFile(secrets, 'blob-account-key', e.blob.accountKey),
    },
    cloud: {
      armEndpoint: `${e.cloud.url}/`,
      authorityHost: `${e.cloud.url}/`,
      tenantId: 'adfs',
      subscriptionId: e.cloud.subscriptionId,
      clientId: e.cloud.clientId,
      clientSecretFile: writeSecretFile(secrets, 'cloud-client-secret', e.cloud.clientSecret),
      caCertFile: e.cloud.caCertFile,
      storageAccountId: `/subscriptions/${e.cloud.subscriptionId}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/${e.blob.accountName}`,
      adminSshPublicKey: UNUSED_SSH_KEY,
    },
    terraform: {
      binary: e.tools.terraform,
      cliConfigFile: e.tools.terraformConfig.cliConfigFile,
      workRoot: o.workRoot,
      backend,
      moduleDir: join(repoRoot, 'terraform'),
      root: 'local-twin',
    },
    dns: { kind: 'challtestsrv', managementUrl: e.acme.dnsManagementUrl, dnsServer: e.acme.dnsAddress, zone: 'consul.hcs.test' },
    acme: {
      directoryUrl: e.acme.directoryUrl,
      contactEmail: 'sre@hcs.test',
      caCertFile: acmeCaFile,
      trustedRootsFile: e.acme.issuerRootFile,
    },
    ...(o.serverCertTtlHours ? { serverCertTtlHours: o.serverCertTtlHours } : {}),
    ...(o.healthTimeoutSeconds ? { healthTimeoutSeconds: o.healthTimeoutSeconds } : {}),
  };
}

function withSslDisabled(url: string): string {
  const u = new URL(url);
  u.searchParams.set('sslmode', 'disable');
  return u.toString();
}

/**
 * Writes `value` to `dir/name`, owner-only, and returns the path. Written beside and renamed, so
 * a process reading it while another test file writes it sees the whole secret.
 */
export function writeSecretFile(dir: string, name: string, value: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, name);
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, value, { mode: 0o600 });
  renameSync(tmp, file);
  return file;
}
