// How the worker reaches Azure (or the local twin and Azurite): the Blob client's credential and
// terraform's root module, variables and environment. Managed identity is the default: a shared
// account key only for Azurite on loopback, a client secret only for the twin's root.
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { isIP } from 'node:net';
import type { InfrastructureDeps } from '../../../activities/infrastructure.js';
import { createTerraformActivities, type TerraformActivities } from '../../../activities/terraform.js';
import { readSecretFile } from '../../../lib/secret-file.js';
import { TERRAFORM_ROOTS, type ParsedLifecycleConfig } from './lifecycle-schema.js';

function isLoopback(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
}

/**
 * The worker's Blob client: the shared key from blob.accountKeyFile (Azurite on loopback only),
 * else DefaultAzureCredential (the VM's managed identity, or workload identity on AKS).
 */
export function blobServiceClient(blob: ParsedLifecycleConfig['blob']): BlobServiceClient {
  if (blob.accountKeyFile) {
    if (!isLoopback(blob.url))
      throw new Error(
        `HCS_LIFECYCLE: blob.accountKeyFile is for Azurite on loopback only; ${new URL(blob.url).host} is reached by managed identity (leave accountKeyFile out)`,
      );
    if (!blob.accountName) throw new Error('HCS_LIFECYCLE: blob.accountKeyFile needs blob.accountName');
    const key = readSecretFile('HCS_LIFECYCLE blob.accountKeyFile', blob.accountKeyFile);
    return new BlobServiceClient(blob.url, new StorageSharedKeyCredential(blob.accountName, key));
  }
  return new BlobServiceClient(blob.url, new DefaultAzureCredential(blob.clientId ? { managedIdentityClientId: blob.clientId } : {}));
}

export interface TerraformAccess {
  rootSubdir: string;
  /** The root module's provider and platform variables (never secrets: they land in the state). */
  variables: Record<string, unknown>;
  /** Extra environment of every terraform run (the CA, the endpoint, the client secret). */
  env: Record<string, string>;
}

/**
 * The chosen root module with its variables and environment. The twin's root takes its endpoint
 * as variables and a client secret or managed identity; Azure's root has no endpoint or secret
 * variable: the azapi provider (1.15.0) reads a non-public endpoint from ARM_RESOURCE_MANAGER_ENDPOINT
 * and ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST, and the managed identity from the platform (IMDS, or
 * IDENTITY_ENDPOINT/IDENTITY_HEADER, passed through by activities/terraform-env.ts).
 */
export function terraformAccess(c: ParsedLifecycleConfig): TerraformAccess {
  const { cloud } = c;
  const platform = {
    subscription_id: cloud.subscriptionId,
    admin_ssh_public_key: cloud.adminSshPublicKey,
    storage_account_id: cloud.storageAccountId,
    blob_account_url: c.blob.url,
  };
  const ca: Record<string, string> = cloud.caCertFile ? { SSL_CERT_FILE: cloud.caCertFile } : {};
  if (c.terraform.root === 'azure') {
    if (cloud.clientSecretFile)
      throw new Error(
        'HCS_LIFECYCLE: cloud.clientSecretFile: the azure root authenticates by managed or workload identity only; leave it out',
      );
    return {
      rootSubdir: TERRAFORM_ROOTS.azure,
      variables: {
        ...platform,
        tenant_id: cloud.tenantId,
        ...(cloud.clientId ? { worker_client_id: cloud.clientId } : {}),
        use_workload_identity: cloud.useWorkloadIdentity,
      },
      env: {
        ...ca,
        ARM_RESOURCE_MANAGER_ENDPOINT: cloud.armEndpoint,
        ...(cloud.authorityHost ? { ARM_ACTIVE_DIRECTORY_AUTHORITY_HOST: cloud.authorityHost } : {}),
      },
    };
  }
  if (!cloud.authorityHost) throw new Error('HCS_LIFECYCLE: cloud.authorityHost is required with the local-twin root');
  if (!cloud.clientId) throw new Error('HCS_LIFECYCLE: cloud.clientId is required with the local-twin root');
  // The client secret reaches terraform through its environment, never through a file or the state.
  const secret = cloud.clientSecretFile ? readSecretFile('HCS_LIFECYCLE cloud.clientSecretFile', cloud.clientSecretFile) : undefined;
  return {
    rootSubdir: TERRAFORM_ROOTS['local-twin'],
    variables: {
      ...platform,
      arm_endpoint: cloud.armEndpoint,
      authority_host: cloud.authorityHost,
      tenant_id: cloud.tenantId,
      client_id: cloud.clientId,
      use_msi: secret === undefined,
    },
    env: { ...ca, ...(secret !== undefined ? { TF_VAR_client_secret: secret } : {}) },
  };
}

/** The worker's terraform driver and the infrastructure activities' module settings, from the configuration. */
export function terraformDeps(c: ParsedLifecycleConfig): {
  terraform: TerraformActivities;
  infrastructure: InfrastructureDeps['infrastructure'];
} {
  const access = terraformAccess(c);
  return {
    terraform: createTerraformActivities({
      terraformBinary: c.terraform.binary,
      cliConfigFile: c.terraform.cliConfigFile,
      workRoot: c.terraform.workRoot,
      backend:
        c.terraform.backend.kind === 'pg'
          ? { kind: 'pg', connStr: readSecretFile('HCS_LIFECYCLE terraform.backend.connStrFile', c.terraform.backend.connStrFile) }
          : c.terraform.backend,
      env: access.env,
    }),
    infrastructure: { moduleDir: c.terraform.moduleDir, rootSubdir: access.rootSubdir, variables: access.variables },
  };
}
