// What the worker needs to build clusters: Vault, Blob, the cloud (Azure Resource Manager or the
// local twin) through Terraform, DNS and ACME. Read from HCS_LIFECYCLE (JSON, shape in
// lifecycle-schema.ts; secrets as files) at start-up and turned into the activities'
// dependencies. Without it the worker runs the store activities and stand-in only (the API's
// contract tests use that).
import { ComputeManagementClient } from '@azure/arm-compute';
import { DnsManagementClient } from '@azure/arm-dns';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { TokenCredential } from '@azure/core-auth';
import { ClientSecretCredential, DefaultAzureCredential } from '@azure/identity';
import nodeVault from 'node-vault';
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { ClusterBlobs } from '../../../activities/cluster-blobs.js';
import { azureDnsRecords } from '../../../activities/azure-dns.js';
import { storeClusterNames } from '../../../activities/cluster-names.js';
import { ConsulAdmin } from '../../../activities/consul-admin.js';
import { challtestsrvRecords, type DnsRecords } from '../../../activities/dns.js';
import type { SnapshotDeps } from '../../../activities/snapshots.js';
import { armResourceGroups, type ResourceGroups } from '../../../activities/resource-groups.js';
import { armServerCompute, type ServerCompute } from '../../../activities/server-compute.js';
import { VaultPki } from '../../../activities/vault-pki.js';
import { httpCall } from '../../../lib/http.js';
import type { SecretBox } from '../../../lib/secret-box.js';
import type { SqlDatabase } from '../../../store/database.js';
import { readSecretFile } from '../../../lib/secret-file.js';
import { blobServiceClient, terraformDeps } from './cloud-access.js';
import type { ParsedLifecycleConfig } from './lifecycle-schema.js';

export { lifecycleConfigSchema, parseLifecycleConfig, type LifecycleConfig, type ParsedLifecycleConfig } from './lifecycle-schema.js';

export function buildLifecycleDeps(c: ParsedLifecycleConfig, o: { db: SqlDatabase; sealer: SecretBox }): SnapshotDeps {
  // The test hook must never reach a real deployment: vitest sets VITEST in its workers.
  if (c.derivedNameOverride && !process.env.VITEST) throw new Error('HCS_LIFECYCLE: derivedNameOverride is for tests only');
  const names = storeClusterNames(o.db, { override: c.derivedNameOverride });
  const vault = nodeVault({
    endpoint: c.vault.address,
    token: readSecretFile('HCS_LIFECYCLE vault.tokenFile', c.vault.tokenFile),
    apiVersion: 'v1',
  });
  const pki = new VaultPki({
    vault,
    rootMount: c.vault.pkiMount,
    transitMount: c.vault.transitMount,
    transitKey: c.vault.transitKey,
    names,
  });
  const blobs = new ClusterBlobs(blobServiceClient(c.blob), names);
  const { terraform, infrastructure } = terraformDeps(c);
  return {
    db: o.db,
    pki,
    blobs,
    names,
    terraform,
    infrastructure,
    ...buildCloudClients(c.cloud),
    dns: buildDnsRecords(c.dns),
    dnsZone: c.dns.zone,
    acme: {
      directoryUrl: c.acme.directoryUrl,
      contactEmail: c.acme.contactEmail,
      ...(c.acme.caCertFile ? { httpsAgent: new Agent({ ca: readFileSync(c.acme.caCertFile, 'utf8') }) } : {}),
      ...(c.acme.trustedRootsFile ? { trustedRootsPem: readFileSync(c.acme.trustedRootsFile, 'utf8') } : {}),
    },
    sealer: o.sealer,
    consulAdmin: (endpoint) => new ConsulAdmin(endpoint),
    serverCertTtlHours: c.serverCertTtlHours,
    healthTimeoutMs: c.healthTimeoutSeconds * 1_000,
    ...(c.snapshotIntervalSeconds !== undefined ? { snapshotIntervalOverrideSeconds: c.snapshotIntervalSeconds } : {}),
  };
}

/**
 * A Resource Manager credential: the service principal when a client secret file is given (the
 * twin's locally), else DefaultAzureCredential (managed identity). A named authority (a sovereign
 * cloud, or the twin) is used as given: MSAL's instance discovery only knows Microsoft's hosts.
 */
function armCredential(
  o: { tenantId: string; clientId?: string; clientSecretFile?: string; authorityHost?: string },
  setting: string,
): TokenCredential {
  if (o.clientSecretFile && o.clientId)
    return new ClientSecretCredential(
      o.tenantId,
      o.clientId,
      readSecretFile(`HCS_LIFECYCLE ${setting}.clientSecretFile`, o.clientSecretFile),
      o.authorityHost ? { authorityHost: o.authorityHost, disableInstanceDiscovery: true } : {},
    );
  return new DefaultAzureCredential({
    tenantId: o.tenantId,
    ...(o.clientId ? { managedIdentityClientId: o.clientId } : {}),
    ...(o.authorityHost ? { authorityHost: o.authorityHost } : {}),
  });
}

/**
 * Resource Manager (the twin locally) in the subscription the clusters are built in, with the
 * identity Terraform uses: the compute API the servers' VMs are restarted and reimaged through,
 * and the resource groups a destroy Terraform cannot finish falls back on.
 */
export function buildCloudClients(cloud: ParsedLifecycleConfig['cloud']): { compute: ServerCompute; resourceGroups: ResourceGroups } {
  const credential = armCredential(cloud, 'cloud');
  const options = { endpoint: cloud.armEndpoint.replace(/\/+$/, '') };
  return {
    compute: armServerCompute(new ComputeManagementClient(credential, cloud.subscriptionId, options)),
    resourceGroups: armResourceGroups(new ResourceManagementClient(credential, cloud.subscriptionId, options)),
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
  const credential = armCredential(dns, 'dns');
  const client = new DnsManagementClient(credential, dns.subscriptionId, { endpoint: dns.armEndpoint.replace(/\/+$/, '') });
  return azureDnsRecords({ client, resourceGroup: dns.resourceGroup, zone: dns.zone });
}
