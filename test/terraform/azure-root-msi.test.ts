// The Azure root module (terraform/examples/azure: managed identity, no client secret, no endpoint
// variable) applied through the worker's own configuration path (HCS_LIFECYCLE with terraform.root
// "azure" and no cloud.clientSecretFile -> apps/worker/src/cloud-access.ts terraformDeps) against
// the ARM twin: the azapi provider (1.15.0) takes the twin's endpoint from
// ARM_RESOURCE_MANAGER_ENDPOINT, which the worker sets from cloud.armEndpoint, trusts the twin's CA
// through SSL_CERT_FILE, and gets its token from the twin's managed-identity endpoint
// (IDENTITY_ENDPOINT/IDENTITY_HEADER, which terraform-env.ts passes through from the worker's
// environment as an Azure host's platform sets them). A proxy that refuses every connection stands
// in for the network, so nothing but the twin is reached.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freePort } from '../../devstack/supervisor.js';
import { repoRoot, toolPaths } from '../../scripts/toolchain.mjs';
import { startTestCloud, type TestCloud } from '../../apps/local-cloud/src/testing.js';
import { probe, probeInstanceCommand } from '../../apps/local-cloud/src/testing-instance.js';
import { terraformDeps } from '../../apps/worker/src/cloud-access.js';
import { lifecycleConfigSchema } from '../../apps/worker/src/lifecycle-schema.js';

const tools = toolPaths();
const work = mkdtempSync(join(tmpdir(), 'hcs-azure-root-'));
const PLATFORM = ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER', 'HTTP_PROXY', 'HTTPS_PROXY'] as const;
const saved = Object.fromEntries(PLATFORM.map((n) => [n, process.env[n]]));
let t: TestCloud;
let port: number;

beforeAll(async () => {
  port = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(port), retryAfterSeconds: 1 });
  // What an Azure host's platform gives the worker (here: the twin's identity endpoint).
  process.env.IDENTITY_ENDPOINT = t.cloud.controlPlaneIdentity.endpoint;
  process.env.IDENTITY_HEADER = t.cloud.controlPlaneIdentity.header;
  process.env.HTTP_PROXY = 'http://127.0.0.1:9';
  process.env.HTTPS_PROXY = 'http://127.0.0.1:9';
});
afterAll(async () => {
  for (const n of PLATFORM)
    if (saved[n] === undefined) delete process.env[n];
    else process.env[n] = saved[n];
  await t?.dispose();
  rmSync(work, { recursive: true, force: true });
});

it('applies, re-applies and destroys the Azure root by managed identity, with no client secret', async () => {
  const sub = t.cloud.subscriptionId;
  const config = lifecycleConfigSchema.parse({
    vault: { address: 'https://127.0.0.1:1', tokenFile: join(work, 'unused'), pkiMount: 'pki', transitMount: 'transit' },
    blob: { url: 'https://127.0.0.1:10000/hcsdev' },
    cloud: {
      armEndpoint: `${t.cloud.url}/`,
      tenantId: t.cloud.tenantId,
      subscriptionId: sub,
      clientId: t.cloud.clientCredentials.clientId,
      caCertFile: t.cloud.caCertFile,
      storageAccountId: `/subscriptions/${sub}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/hcsdev`,
      adminSshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb0Ykx8H2dXv8bZrXoWQkq3n2dN1o8t3e8p9k4w5r6s test',
    },
    terraform: {
      binary: tools.terraform,
      cliConfigFile: tools.terraformConfig.cliConfigFile,
      workRoot: join(work, 'runs'),
      backend: { kind: 'local', dir: join(work, 'state') },
      moduleDir: join(repoRoot, 'terraform'),
      root: 'azure',
    },
    dns: { kind: 'challtestsrv', managementUrl: 'http://127.0.0.1:1', dnsServer: '127.0.0.1:1', zone: 'consul.hcs.test' },
    acme: { directoryUrl: 'https://127.0.0.1:1/dir', contactEmail: 'sre@hcs.test' },
  });
  const { terraform, infrastructure } = terraformDeps(config);
  expect(infrastructure.rootSubdir).toBe(join('examples', 'azure'));
  expect(JSON.stringify(infrastructure.variables)).not.toMatch(/secret/i);
  const clusterId = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';
  const input = {
    state: `hcs_${clusterId}`,
    owner: { clusterId },
    moduleDir: infrastructure.moduleDir,
    rootSubdir: infrastructure.rootSubdir,
    variables: {
      ...infrastructure.variables,
      cluster_name: 'azroot',
      cluster_id: clusterId,
      location: 'westeurope',
      resource_group_name: 'rg-azure-root-msi',
      vnet_cidr: '10.40.0.0/16',
      server_count: 3,
      consul_version: '1.22.7',
      datacenter: 'dc1',
      public_endpoint: false,
      blob_container: 'cluster',
    },
  };
  const applied = await terraform.terraformApply(input);
  const servers = applied.outputs.servers as Array<{ name: string; zone: string; private_address: string }>;
  expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3']);
  for (const server of servers) {
    const answer = await probe(server.private_address, port);
    expect(answer.zone).toBe(server.zone);
  }
  // A second apply converges on what the twin holds.
  const again = await terraform.terraformApply(input);
  expect(again.outputs.servers).toEqual(applied.outputs.servers);
  await terraform.terraformDestroy({ ...input, deleteState: true });
  for (const server of servers) await expect(probe(server.private_address, port, undefined, 500)).rejects.toThrow();
});
