// The shape of HCS_LIFECYCLE, the worker's cluster-building configuration (JSON). It holds no
// secret: each secret is the path of a file (`...File`), read and checked at start-up
// (lib/secret-file.ts). Every field carries its documentation (docs/configuration.md is derived
// from it). Managed identity is the default way to Azure: the Blob client and terraform use it
// whenever no account key or client secret file is given.
import { join } from 'node:path';
import { z } from 'zod';
import type { DerivedNameKind } from '../../../activities/cluster-names.js';
import { setting } from '../../../lib/settings.js';

export const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';

/** The Terraform root modules under terraform/, by name: the twin's (client secret or managed identity) and Azure's (managed or workload identity only). */
export const TERRAFORM_ROOTS = { 'local-twin': join('examples', 'local-twin'), azure: join('examples', 'azure') } as const;

/** Fields that held secrets inline before; each names the file field that replaces it. */
export const RETIRED_INLINE_SECRETS: Record<string, string> = {
  'vault.token': 'vault.tokenFile',
  'blob.accountKey': 'blob.accountKeyFile (or none: managed identity)',
  'cloud.clientSecret': 'cloud.clientSecretFile (or none: managed identity)',
  'dns.clientSecret': 'dns.clientSecretFile (or none: managed identity)',
  'terraform.backend.connStr': 'terraform.backend.connStrFile',
  'terraform.rootSubdir': 'terraform.root ("local-twin" or "azure")',
};

const secretFile = (what: string) => setting(z.string().min(1), `path of a file holding ${what} (owner-only mode)`, { secret: true });

export const lifecycleConfigSchema = z.object({
  vault: z.object({
    address: setting(z.string().url(), 'OpenBao/Vault address'),
    tokenFile: secretFile('the Vault token'),
    pkiMount: setting(z.string().min(1), 'PKI secrets engine mount holding the per-cluster CAs'),
    transitMount: setting(z.string().min(1), 'transit secrets engine mount'),
    transitKey: setting(z.string().min(1).default('hcs-secrets'), 'transit key that encrypts stored secrets'),
  }),
  blob: z.object({
    url: setting(z.string().url(), 'Blob service URL of the storage account (Azurite locally)'),
    accountName: setting(z.string().min(1).optional(), 'storage account name; needed with accountKeyFile'),
    accountKeyFile: setting(
      z.string().min(1).optional(),
      'path of a file holding the shared account key: Azurite on loopback only. Without it the worker uses DefaultAzureCredential (managed or workload identity)',
      { secret: true },
    ),
    clientId: setting(
      z.string().min(1).optional(),
      "client id of the worker's user-assigned managed identity for Blob (none: the only identity)",
    ),
  }),
  cloud: z.object({
    armEndpoint: setting(z.string().url().default(PUBLIC_ARM_ENDPOINT), 'Resource Manager endpoint (the twin locally)'),
    authorityHost: setting(z.string().url().optional(), 'Entra ID authority host for a client secret (the twin locally)'),
    tenantId: setting(z.string().min(1), 'tenant of the subscription'),
    subscriptionId: setting(z.string().uuid(), 'subscription the clusters are built in'),
    clientId: setting(
      z.string().min(1).optional(),
      "client id: of the service principal (with clientSecretFile) or of the worker's user-assigned managed identity",
    ),
    clientSecretFile: setting(
      z.string().min(1).optional(),
      'path of a file holding the client secret (local-twin root only); without it terraform authenticates by managed identity',
      { secret: true },
    ),
    useWorkloadIdentity: setting(z.boolean().default(false), 'azure root: AKS workload identity instead of the managed identity'),
    caCertFile: setting(z.string().optional(), "CA terraform's provider must trust for the endpoint (the twin's own)"),
    storageAccountId: setting(z.string().min(1), "resource id of the storage account the servers' identities may read"),
    adminSshPublicKey: setting(z.string().min(1), "the servers' admin SSH public key"),
  }),
  terraform: z.object({
    binary: setting(z.string().min(1), 'terraform binary'),
    cliConfigFile: setting(z.string().min(1), 'terraform CLI configuration (the provider mirror)'),
    workRoot: setting(z.string().min(1), "folder of the runs' private folders (0700), swept of dead runs' leftovers at start"),
    backend: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('pg'), connStrFile: secretFile("the connection string of terraform's state in PostgreSQL") }),
      z.object({ kind: z.literal('local'), dir: setting(z.string().min(1), 'state files in this folder (single machine)') }),
    ]),
    moduleDir: setting(z.string().min(1), 'folder holding the Terraform modules (terraform/)'),
    root: setting(z.enum(['local-twin', 'azure']), 'root module: local-twin (the twin) or azure (managed identity, no client secret)'),
  }),
  dns: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('challtestsrv'),
      managementUrl: setting(z.string().url(), "challtestsrv's management URL"),
      dnsServer: setting(z.string().min(1), 'its DNS server (host:port), where the records are read back'),
      zone: setting(z.string().min(1), 'DNS zone of the public endpoints'),
    }),
    z.object({
      kind: z.literal('azure'),
      subscriptionId: setting(z.string().uuid(), 'subscription of the Azure DNS zone'),
      resourceGroup: setting(z.string().min(1), 'resource group of the zone'),
      zone: setting(z.string().min(1), 'DNS zone of the public endpoints'),
      armEndpoint: setting(z.string().url().default(PUBLIC_ARM_ENDPOINT), 'Resource Manager endpoint'),
      tenantId: setting(z.string().min(1), 'tenant'),
      clientId: setting(z.string().min(1), 'client id (service principal, or the managed identity)'),
      clientSecretFile: setting(z.string().min(1).optional(), 'path of a file holding a client secret; none: DefaultAzureCredential', {
        secret: true,
      }),
      authorityHost: setting(z.string().url().optional(), 'Entra ID authority host'),
    }),
  ]),
  acme: z.object({
    directoryUrl: setting(z.string().url(), 'ACME directory'),
    contactEmail: setting(z.string().email(), 'ACME account contact'),
    caCertFile: setting(z.string().optional(), "CA of the ACME server's API (Pebble locally)"),
    trustedRootsFile: setting(
      z.string().optional(),
      "roots the ACME CA's certificates chain to, trusted when reaching a public endpoint's servers (default: the public roots Node.js ships)",
    ),
  }),
  serverCertTtlHours: setting(z.number().positive().max(8760).default(72), 'lifetime of server certificates, hours (fractions allowed)'),
  healthTimeoutSeconds: setting(z.number().int().min(10).default(300), 'how long a new or changed cluster may take to become healthy'),
  snapshotIntervalSeconds: setting(z.number().int().min(1).optional(), "tests only: every cluster's snapshot schedule fires this often"),
  derivedNameOverride: setting(
    z
      .record(
        z.string(),
        z.object({
          clusterId: z.string().regex(/^[0-9a-f]{32}$/),
          names: z
            .array(z.enum(['dnsLabel', 'infraResourceGroup', 'pkiMount', 'container', 'terraformState'] satisfies DerivedNameKind[]))
            .optional(),
        }),
      )
      .optional(),
    'TESTS ONLY, refused outside the test runner: force clusters onto derived names of another id',
  ),
});
export type LifecycleConfig = z.input<typeof lifecycleConfigSchema>;
export type ParsedLifecycleConfig = z.output<typeof lifecycleConfigSchema>;

/** Parses HCS_LIFECYCLE; refuses inline secrets and bad fields with one error naming each. */
export function parseLifecycleConfig(json: string): ParsedLifecycleConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new Error('invalid HCS_LIFECYCLE: is not valid JSON');
  }
  const problems = retiredFields(raw);
  const parsed = lifecycleConfigSchema.safeParse(raw);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  if (problems.length || !parsed.success) throw new Error(`invalid HCS_LIFECYCLE: ${problems.join('; ')}`);
  return parsed.data;
}

/** The retired fields present in `raw`, each with what replaces it (never the value). */
export function retiredFields(raw: unknown): string[] {
  const at = (path: string) =>
    path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), raw);
  return Object.entries(RETIRED_INLINE_SECRETS)
    .filter(([path]) => at(path) !== undefined)
    .map(([path, instead]) => `${path}: is no longer read; use ${instead}`);
}
