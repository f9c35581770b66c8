// What the worker needs to build clusters: Vault, Blob, the cloud (Azure Resource Manager or the
// local twin) through Terraform, DNS and ACME. Read from HCS_LIFECYCLE (JSON) at start-up and
// turned into the activities' dependencies. Without it the worker runs the store activities
// and stand-in only (the API's contract tests use that).
import { DnsManagementClient } from '@azure/arm-dns';
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import nodeVault from 'node-vault';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { z } from 'zod';
import { ClusterBlobs } from '../../../activities/cluster-blobs.js';
import { azureDnsRecords } from '../../../activities/azure-dns.js';
import { type DerivedNameKind, storeClusterNames } from '../../../activities/cluster-names.js';
import { ConsulAdmin } from '../../../activities/consul-admin.js';
import { challtestsrvRecords, type DnsRecords } from '../../../activities/dns.js';
import type { SnapshotDeps } from '../../../activities/snapshots.js';
import { createTerraformActivities } from '../../../activities/terraform.js';
import { VaultPki } from '../../../activities/vault-pki.js';
import { httpCall } from '../../../lib/http.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import type { SqlDatabase } from '../../../store/database.js';

const PUBLIC_ARM_ENDPOINT = 'https://management.azure.com';

export const lifecycleConfigSchema = z.object({
  vault: z.object({
    address: z.string().url(),
    token: z.string().min(1),
    pkiMount: z.string().min(1),
    transitMount: z.string().min(1),
    transitKey: z.string().min(1).default('hcs-secrets'),
  }),
  blob: z.object({ url: z.string().url(), accountName: z.string().min(1), accountKey: z.string().min(1) }),
  cloud: z.object({
    /** Resource Manager endpoint and token authority (the twin serves both). */
    armEndpoint: z.string().url(),
    authorityHost: z.string().url(),
    tenantId: z.string().min(1),
    subscriptionId: z.string().uuid(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    /** CA terraform's provider must trust for the endpoint (the twin's own). */
    caCertFile: z.string().optional(),
    storageAccountId: z.string().min(1),
    adminSshPublicKey: z.string().min(1),
  }),
  terraform: z.object({
    binary: z.string().min(1),
    cliConfigFile: z.string().min(1),
    /** The runs' private folders (0700), on this machine's disk; swept of dead runs' leftovers at start. */
    workRoot: z.string().min(1),
    backend: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('pg'), connStr: z.string().min(1) }),
      z.object({ kind: z.literal('local'), dir: z.string().min(1) }),
    ]),
    moduleDir: z.string().min(1),
    rootSubdir: z.string().default(join('examples', 'local-twin')),
  }),
  /** Where each cluster's DNS records go: challtestsrv locally, an Azure DNS zone (or the twin's) otherwise. */
  dns: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('challtestsrv'),
      managementUrl: z.string().url(),
      /** Its DNS server (host:port), where the records' owners are read back. */
      dnsServer: z.string().min(1),
      zone: z.string().min(1),
    }),
    z.object({
      kind: z.literal('azure'),
      subscriptionId: z.string().uuid(),
      resourceGroup: z.string().min(1),
      zone: z.string().min(1),
      /** Resource Manager endpoint; the public cloud's unless given (the twin's URL locally). */
      armEndpoint: z.string().url().default(PUBLIC_ARM_ENDPOINT),
      tenantId: z.string().min(1),
      clientId: z.string().min(1),
      /** Without it the worker uses DefaultAzureCredential (managed or workload identity with clientId). */
      clientSecret: z.string().min(1).optional(),
      authorityHost: z.string().url().optional(),
    }),
  ]),
  acme: z.object({ directoryUrl: z.string().url(), contactEmail: z.string().email(), caCertFile: z.string().optional() }),
  /** Lifetime of server certificates; fractions allowed (tests rotate within minutes). */
  serverCertTtlHours: z.number().positive().max(8760).default(72),
  healthTimeoutSeconds: z.number().int().min(10).default(300),
  /** Tests only: every cluster's snapshot schedule fires this often instead of its policy's interval. */
  snapshotIntervalSeconds: z.number().int().min(1).optional(),
  /**
   * TESTS ONLY, refused outside the test runner: by cluster resource key, derive the listed names
   * (all when none are listed) from another id, to force clusters onto one name and prove the
   * collision is refused (activities/cluster-names.ts, DerivedNameOverride).
   */
  derivedNameOverride: z
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
});
export type LifecycleConfig = z.input<typeof lifecycleConfigSchema>;
export type ParsedLifecycleConfig = z.output<typeof lifecycleConfigSchema>;

export function parseLifecycleConfig(json: string): ParsedLifecycleConfig {
  const parsed = lifecycleConfigSchema.safeParse(JSON.parse(json));
  if (!parsed.success)
    throw new Error(`invalid HCS_LIFECYCLE: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

export function buildLifecycleDeps(c: ParsedLifecycleConfig, o: { db: SqlDatabase; sealer: SecretBox }): SnapshotDeps {
  // The test hook must never reach a real deployment: vitest sets VITEST in its workers.
  if (c.derivedNameOverride && !process.env.VITEST) throw new Error('HCS_LIFECYCLE: derivedNameOverride is for tests only');
  const names = storeClusterNames(o.db, { override: c.derivedNameOverride });
  const vault = nodeVault({ endpoint: c.vault.address, token: c.vault.token, apiVersion: 'v1' });
  const pki = new VaultPki({
    vault,
    rootMount: c.vault.pkiMount,
    transitMount: c.vault.transitMount,
    transitKey: c.vault.transitKey,
    names,
  });
  const blobs = new ClusterBlobs(
    new BlobServiceClient(c.blob.url, new StorageSharedKeyCredential(c.blob.accountName, c.blob.accountKey)),
    names,
  );
  const terraform = createTerraformActivities({
    terraformBinary: c.terraform.binary,
    cliConfigFile: c.terraform.cliConfigFile,
    workRoot: c.terraform.workRoot,
    backend: c.terraform.backend,
    env: {
      ...(c.cloud.caCertFile ? { SSL_CERT_FILE: c.cloud.caCertFile } : {}),
      // The client secret reaches terraform through its environment, never through a file or the state.
      TF_VAR_client_secret: c.cloud.clientSecret,
    },
  });
  return {
    db: o.db,
    pki,
    blobs,
    names,
    terraform,
    infrastructure: {
      moduleDir: c.terraform.moduleDir,
      rootSubdir: c.terraform.rootSubdir,
      variables: {
        arm_endpoint: c.cloud.armEndpoint,
        authority_host: c.cloud.authorityHost,
        subscription_id: c.cloud.subscriptionId,
        tenant_id: c.cloud.tenantId,
        client_id: c.cloud.clientId,
        admin_ssh_public_key: c.cloud.adminSshPublicKey,
        storage_account_id: c.cloud.storageAccountId,
        blob_account_url: c.blob.url,
      },
    },
    dns: buildDnsRecords(c.dns),
    dnsZone: c.dns.zone,
    acme: {
      directoryUrl: c.acme.directoryUrl,
      contactEmail: c.acme.contactEmail,
      ...(c.acme.caCertFile ? { httpsAgent: new Agent({ ca: readFileSync(c.acme.caCertFile, 'utf8') }) } : {}),
    },
    sealer: o.sealer,
    consulAdmin: (endpoint) => new ConsulAdmin(endpoint),
    serverCertTtlHours: c.serverCertTtlHours,
    healthTimeoutMs: c.healthTimeoutSeconds * 1_000,
    ...(c.snapshotIntervalSeconds !== undefined ? { snapshotIntervalOverrideSeconds: c.snapshotIntervalSeconds } : {}),
  };
}

/** The DNS provider the configuration names. */
export function buildDnsRecords(dns: ParsedLifecycleConfig['dns']): DnsRecords {
  if (dns.kind === 'challtestsrv') {
    return challtestsrvRecords(
      dns.managementUrl,
      async (url, body) => (await httpCall(url, { method: 'POST', body })).status,
      dns.dnsServer,
    );
  }
  // A named authority (a sovereign cloud, or the twin locally) is used as given: MSAL's instance
  // discovery only knows Microsoft's public hosts.
  const credential = dns.clientSecret
    ? new ClientSecretCredential(
        dns.tenantId,
        dns.clientId,
        dns.clientSecret,
        dns.authorityHost ? { authorityHost: dns.authorityHost, disableInstanceDiscovery: true } : {},
      )
    : new DefaultAzureCredential({
        tenantId: dns.tenantId,
        managedIdentityClientId: dns.clientId,
        ...(dns.authorityHost ? { authorityHost: dns.authorityHost } : {}),
      });
  const client = new DnsManagementClient(credential, dns.subscriptionId, { endpoint: dns.armEndpoint.replace(/\/+$/, '') });
  return azureDnsRecords({ client, resourceGroup: dns.resourceGroup, zone: dns.zone });
}
