// What the worker needs to build clusters: Vault, Blob, the cloud (Azure Resource Manager or the
// local twin) through Terraform, DNS and ACME. Read from HCS_LIFECYCLE (JSON) at start-up and
// turned into the activities' dependencies. Without it the worker runs the store activities
// and stand-in only (the API's contract tests use that).
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import nodeVault from 'node-vault';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { z } from 'zod';
import { ClusterBlobs } from '../../../activities/cluster-blobs.js';
import { challtestsrvRecords } from '../../../activities/dns.js';
import type { SnapshotDeps } from '../../../activities/snapshots.js';
import { createTerraformActivities } from '../../../activities/terraform.js';
import { VaultPki } from '../../../activities/vault-pki.js';
import { httpCall } from '../../../lib/http.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import type { SqlDatabase } from '../../../store/database.js';

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
    workRoot: z.string().min(1),
    backend: z.discriminatedUnion('kind', [
      z.object({ kind: z.literal('pg'), connStr: z.string().min(1) }),
      z.object({ kind: z.literal('local'), dir: z.string().min(1) }),
    ]),
    moduleDir: z.string().min(1),
    rootSubdir: z.string().default(join('examples', 'local-twin')),
  }),
  dns: z.object({ kind: z.literal('challtestsrv'), managementUrl: z.string().url(), zone: z.string().min(1) }),
  acme: z.object({ directoryUrl: z.string().url(), contactEmail: z.string().email(), caCertFile: z.string().optional() }),
  /** Lifetime of server certificates; fractions allowed (tests rotate within minutes). */
  serverCertTtlHours: z.number().positive().max(8760).default(72),
  healthTimeoutSeconds: z.number().int().min(10).default(300),
  /** Tests only: every cluster's snapshot schedule fires this often instead of its policy's interval. */
  snapshotIntervalSeconds: z.number().int().min(1).optional(),
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
  const vault = nodeVault({ endpoint: c.vault.address, token: c.vault.token, apiVersion: 'v1' });
  const pki = new VaultPki({ vault, rootMount: c.vault.pkiMount, transitMount: c.vault.transitMount, transitKey: c.vault.transitKey });
  const blobs = new ClusterBlobs(new BlobServiceClient(c.blob.url, new StorageSharedKeyCredential(c.blob.accountName, c.blob.accountKey)));
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
    dns: challtestsrvRecords(c.dns.managementUrl, async (url, body) => (await httpCall(url, { method: 'POST', body })).status),
    dnsZone: c.dns.zone,
    acme: {
      directoryUrl: c.acme.directoryUrl,
      contactEmail: c.acme.contactEmail,
      ...(c.acme.caCertFile ? { httpsAgent: new Agent({ ca: readFileSync(c.acme.caCertFile, 'utf8') }) } : {}),
    },
    sealer: o.sealer,
    serverCertTtlHours: c.serverCertTtlHours,
    healthTimeoutMs: c.healthTimeoutSeconds * 1_000,
    ...(c.snapshotIntervalSeconds !== undefined ? { snapshotIntervalOverrideSeconds: c.snapshotIntervalSeconds } : {}),
  };
}
