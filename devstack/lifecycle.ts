// The worker's lifecycle configuration for the local stack: Vault, Azurite, the ARM twin,
// terraform from the tool cache, challtestsrv for DNS and Pebble for ACME. `npm start` and the
// end-to-end tests use this; production writes the same JSON with real endpoints.
import { writeFileSync } from 'node:fs';
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
  const backend =
    e.database.kind === 'postgres'
      ? { kind: 'pg' as const, connStr: withSslDisabled(e.database.url) }
      : { kind: 'local' as const, dir: join(e.dataDir, 'terraform-state') };
  const acmeCaFile = join(e.dataDir, 'pebble-api-ca.pem');
  writeFileSync(acmeCaFile, e.acme.apiCaCertPem);
  return {
    vault: { address: e.vault.address, token: e.vault.token, pkiMount: e.vault.pkiMount, transitMount: e.vault.transitMount },
    blob: { url: e.blob.url, accountName: e.blob.accountName, accountKey: e.blob.accountKey },
    cloud: {
      armEndpoint: `${e.cloud.url}/`,
      authorityHost: `${e.cloud.url}/`,
      tenantId: 'adfs',
      subscriptionId: e.cloud.subscriptionId,
      clientId: e.cloud.clientId,
      clientSecret: e.cloud.clientSecret,
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
      rootSubdir: join('examples', 'local-twin'),
    },
    dns: { kind: 'challtestsrv', managementUrl: e.acme.dnsManagementUrl, dnsServer: e.acme.dnsAddress, zone: 'consul.hcs.test' },
    acme: { directoryUrl: e.acme.directoryUrl, contactEmail: 'sre@hcs.test', caCertFile: acmeCaFile },
    ...(o.serverCertTtlHours ? { serverCertTtlHours: o.serverCertTtlHours } : {}),
    ...(o.healthTimeoutSeconds ? { healthTimeoutSeconds: o.healthTimeoutSeconds } : {}),
  };
}

function withSslDisabled(url: string): string {
  const u = new URL(url);
  u.searchParams.set('sslmode', 'disable');
  return u.toString();
}
