// The infrastructure path end to end, everything real but Azure itself: the Terraform driver runs
// the real terraform + azapi on the cluster module against the ARM twin; every scale-set
// instance is a host-manager that reads its files from Blob (Azurite, over TLS, with the VM's
// managed identity token) and runs a real Consul server on its own address; certificates come
// from the per-cluster CA in OpenBao. TLS, gossip and ACL material are generated here until the
// lifecycle workflows generate them.
import { ResourceManagementClient } from '@azure/arm-resources';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { MockActivityEnvironment } from '@temporalio/testing';
import nodeVault from 'node-vault';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { ClusterBlobs, serverPrefix } from '../../activities/cluster-blobs.js';
import { type ClusterNamesOf, derivedNames } from '../../activities/cluster-names.js';
import { ConsulAdmin, type HealthReport } from '../../activities/consul-admin.js';
import { serverConfig } from '../../domain/consul-config.js';
import {
  createTerraformActivities,
  STATE_LOCKED,
  type TerraformActivities,
  type TerraformApplyResult,
} from '../../activities/terraform.js';
import { VaultPki } from '../../activities/vault-pki.js';
import { startTestCloud, type TestCloud } from '../../apps/local-cloud/src/testing.js';
import { httpCall } from '../../lib/http.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { processWithEnv, waitForTerraformApply } from '../support/processes.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const clusterKey = `/subscriptions/${randomUUID()}/resourcegroups/rg-e2e/providers/hcs.consul/clusters/e2e`;
/** The cluster's random id and names, as the lifecycle derives them. */
const clusterId = randomBytes(16).toString('hex');
const names = derivedNames('e2e', clusterId);
const namesOf: ClusterNamesOf = async () => ({ clusterId, names, owner: { clusterId } });
const work = mkdtempSync(join(tmpdir(), 'hcs-infra-'));
const gossipKey = randomBytes(32).toString('base64');
const management = randomUUID();
const blobs = new ClusterBlobs(
  new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey)),
  namesOf,
);
const pki = new VaultPki({
  vault: nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' }),
  rootMount: stack.vault.pkiMount,
  transitMount: stack.vault.transitMount,
  transitKey: 'hcs-secrets',
  names: namesOf,
});
let t: TestCloud;
let tf: TerraformActivities;
let caBundle = '';

interface Server {
  name: string;
  zone: string;
  private_address: string;
}

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error('the Terraform pg backend needs the PostgreSQL store database');
  t = await startTestCloud({
    retryAfterSeconds: 1,
    instanceCommand: {
      command: process.execPath,
      args: ['--import', import.meta.resolve('tsx'), join(repoRoot, 'apps', 'host-manager', 'src', 'main.ts')],
      env: { HCS_CONSUL_BINARIES: JSON.stringify(stack.tools.consul), HCS_SYNC_INTERVAL_SECONDS: '1' },
    },
  });
  const pg = new URL(stack.database.url);
  pg.searchParams.set('sslmode', 'disable');
  tf = createTerraformActivities({
    terraformBinary: stack.tools.terraform,
    cliConfigFile: stack.tools.terraformConfig.cliConfigFile,
    workRoot: work,
    backend: { kind: 'pg', connStr: pg.toString() },
    env: {
      SSL_CERT_FILE: t.cloud.caCertFile,
      TF_VAR_client_secret: t.cloud.clientCredentials.clientSecret,
      HTTP_PROXY: 'http://127.0.0.1:9',
      HTTPS_PROXY: 'http://127.0.0.1:9',
    },
  });
  await blobs.ensureContainer(clusterKey);
  caBundle = (await pki.ensureClusterCa({ clusterKey, datacenter: 'dc1', maxCertTtlHours: 72 })).caBundlePem;
}, 120_000);
afterAll(async () => {
  await t?.dispose();
  await blobs.deleteContainer(clusterKey);
  await pki.destroyClusterCa(clusterKey);
  rmSync(work, { recursive: true, force: true });
});

function runInput(serverCount: number) {
  const sub = t.cloud.subscriptionId;
  return {
    state: names.terraformState,
    owner: { clusterId },
    moduleDir: join(repoRoot, 'terraform'),
    rootSubdir: join('examples', 'local-twin'),
    variables: {
      arm_endpoint: `${t.cloud.url}/`,
      authority_host: `${t.cloud.url}/`,
      subscription_id: sub,
      tenant_id: 'adfs',
      client_id: t.cloud.clientCredentials.clientId,
      cluster_name: 'e2e',
      resource_group_name: 'rg-e2e',
      consul_version: version,
      server_count: serverCount,
      vnet_cidr: '10.50.0.0/16',
      admin_ssh_public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBb0Ykx8H2dXv8bZrXoWQkq3n2dN1o8t3e8p9k4w5r6s e2e',
      storage_account_id: `/subscriptions/${sub}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/${stack.blob.accountName}`,
      blob_account_url: stack.blob.url,
      blob_container: names.container,
      cluster_id: clusterId,
    },
  };
}

/** Runs an activity, retrying what it marks retryable (a locked state) as Temporal's retry policy would. */
async function retrying<R>(fn: () => Promise<R>): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if ((err as { type?: string }).type !== STATE_LOCKED || attempt >= 10) throw err;
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

async function apply(serverCount: number): Promise<{ result: TerraformApplyResult; servers: Server[] }> {
  const input = runInput(serverCount);
  const result = await retrying(() =>
    new MockActivityEnvironment().run<[typeof input], TerraformApplyResult, typeof tf.terraformApply>(tf.terraformApply, input),
  );
  return { result, servers: result.outputs.servers as Server[] };
}

/** What the lifecycle workflow will publish: each server's certificate, config and manifest. */
async function publish(servers: Server[], generation: number): Promise<void> {
  const ips = servers.map((s) => s.private_address);
  for (const [i, s] of servers.entries()) {
    const cert = await pki.issueServerCertificate({ clusterKey, datacenter: 'dc1', ipAddresses: [s.private_address], ttlHours: 72 });
    const prefix = serverPrefix(i);
    // The lifecycle's own server configuration. The lifecycle workflow gives servers their own
    // agent token (ConsulAdmin.ensureToken); here the management token stands in, so agents can
    // sync their node metadata.
    const config = serverConfig({
      plan: { datacenter: 'dc1' },
      server: { index: i, name: s.name, zone: s.zone, address: s.private_address },
      addresses: ips,
      gossip: gossipKey,
      management,
      agent: management,
      bootstrapExpect: 3,
    });
    await blobs.writeIfNewer(clusterKey, `${prefix}tls/ca.pem`, caBundle, generation);
    await blobs.writeIfNewer(clusterKey, `${prefix}tls/server.pem`, cert.certificatePem, generation);
    await blobs.writeIfNewer(clusterKey, `${prefix}tls/server.key`, cert.privateKeyPem, generation);
    await blobs.writeIfNewer(clusterKey, `${prefix}consul.json`, JSON.stringify(config), generation);
    const files = ['tls/ca.pem', 'tls/server.pem', 'tls/server.key'].map((f) => ({ blob: `${prefix}${f}`, path: f }));
    files.push({ blob: `${prefix}consul.json`, path: 'config/10-cluster.json' });
    await blobs.writeIfNewer(
      clusterKey,
      `${prefix}manifest.json`,
      JSON.stringify({ consulVersion: version, generation, files }),
      generation,
    );
  }
}

async function healthy(servers: Server[], expected: number): Promise<HealthReport> {
  const admin = new ConsulAdmin({ url: `https://${servers[0]!.private_address}:8501`, caPem: caBundle });
  let report: HealthReport | undefined;
  for (let i = 0; i < 240; i++) {
    report = await admin
      .health(management, expected)
      .catch((err: unknown) => ({ healthy: false, leader: undefined, voters: 0, problems: [String(err)] }));
    if (report.healthy) return report;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`cluster not healthy: ${report?.problems.join('; ')}`);
}

/** Pid of the host-manager running as the instance with this address (0 if none when allowed). */
function hostManagerPid(ip: string, allowNone = false): number {
  const pid = processWithEnv('apps/host-manager/src/main.ts', `HCS_INSTANCE_IP=${ip}`);
  if (!pid && !allowNone) throw new Error(`no host-manager runs as ${ip}`);
  return pid;
}

/** The zone each server's agent reports in the catalog (node metadata synced by the agents). */
async function nodeZones(servers: Server[]): Promise<string[]> {
  let body = '';
  for (let i = 0; i < 120; i++) {
    const res = await httpCall(`https://${servers[0]!.private_address}:8501/v1/catalog/nodes`, {
      ca: caBundle,
      headers: { 'x-consul-token': management },
    });
    body = res.body;
    const nodes = JSON.parse(body) as Array<{ Meta: Record<string, string> | null }>;
    if (nodes.length === servers.length && nodes.every((n) => n.Meta?.zone)) return nodes.map((n) => n.Meta!.zone!).sort();
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`nodes without zone metadata: ${body.slice(0, 600)}`);
}

it('brings up 3 Consul servers in zones 1, 2, 3 that elect a leader; a second apply changes nothing', async () => {
  const { result, servers } = await apply(3);
  expect(result.changed).toBe(true);
  expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3']);
  await publish(servers, 1);
  const report = await healthy(servers, 3);
  expect(report.voters).toBe(3);
  expect(await nodeZones(servers)).toEqual(['1', '2', '3']);
  // TLS only: the plain HTTP port is closed.
  await expect(httpCall(`http://${servers[0]!.private_address}:8500/v1/status/leader`)).rejects.toThrow();

  const again = await apply(3);
  expect(again.result.changed).toBe(false);
  // Every taggable resource carries the cluster's id.
  const resources = new ResourceManagementClient(t.credential, t.cloud.subscriptionId, t.clientOptions);
  expect((await resources.resourceGroups.get('rg-e2e')).tags?.['hcs-cluster-id']).toBe(clusterId);
  const group = `/subscriptions/${t.cloud.subscriptionId}/resourceGroups/rg-e2e/providers`;
  for (const [id, apiVersion] of [
    [`${group}/Microsoft.Network/networkSecurityGroups/e2e-nsg`, '2023-11-01'],
    [`${group}/Microsoft.Network/virtualNetworks/e2e-vnet`, '2023-11-01'],
    [`${group}/Microsoft.ManagedIdentity/userAssignedIdentities/e2e-identity`, '2023-01-31'],
    ...servers.map((s) => [`${group}/Microsoft.Compute/virtualMachineScaleSets/${s.name}`, '2024-03-01']),
  ] as const)
    expect((await resources.resources.getById(id, apiVersion)).tags?.['hcs-cluster-id'], id).toBe(clusterId);
}, 300_000);

it('scales 3 to 5 through an apply killed with SIGKILL midway: the re-run converges and two servers join in zones 1 and 2', async () => {
  const killed = new MockActivityEnvironment().run(tf.terraformApply, runInput(5)).catch((e: unknown) => e);
  const pid = await waitForTerraformApply(stack.tools.terraform, work);
  expect(pid).toBeGreaterThan(0);
  process.kill(pid, 'SIGKILL');
  expect(await killed).toMatchObject({ type: 'TerraformFailed' });

  const { servers } = await apply(5);
  expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3', '1', '2']);
  await publish(servers, 2);
  expect((await healthy(servers, 5)).voters).toBe(5);
  expect(await nodeZones(servers)).toEqual(['1', '1', '2', '2', '3']);
  expect((await apply(5)).result.changed).toBe(false);
}, 300_000);

it('brings back a killed server VM that rejoins its cluster with the control plane nowhere in sight', async () => {
  const { servers } = await apply(5);
  const victim = servers[1]!;
  const pid = hostManagerPid(victim.private_address);
  const before = JSON.parse((await httpCall(`http://${victim.private_address}:9701/status`)).body) as { consulPid: number };
  // The instance's main process dies; the twin treats the VM as down (its Consul goes too) and
  // starts it again, as Azure restarts a failed VM.
  process.kill(pid, 'SIGKILL');
  // The twin restarts the instance, as Azure restarts a VM; host-manager needs only Blob.
  let back = 0;
  for (let i = 0; i < 120 && !back; i++) {
    await new Promise((r) => setTimeout(r, 500));
    back = hostManagerPid(victim.private_address, true);
  }
  expect(back).toBeGreaterThan(0);
  expect(back).not.toBe(pid);
  // Its new host-manager runs a new Consul...
  let after: { consulPid?: number; state?: string } = {};
  for (let i = 0; i < 120 && !(after.state === 'running' && after.consulPid && after.consulPid !== before.consulPid); i++) {
    await new Promise((r) => setTimeout(r, 500));
    after = await httpCall(`http://${victim.private_address}:9701/status`)
      .then((r) => JSON.parse(r.body) as { consulPid?: number; state?: string })
      .catch(() => ({}));
  }
  expect(after).toMatchObject({ state: 'running' });
  expect(after.consulPid).not.toBe(before.consulPid);
  // ...which rejoined: asked through the restarted server itself, the cluster is whole again.
  expect((await healthy([victim, ...servers.filter((s) => s !== victim)], 5)).voters).toBe(5);
}, 300_000);

it('destroys everything: no twin resource and no instance process is left', async () => {
  const { servers } = await apply(5);
  await retrying(() => new MockActivityEnvironment().run(tf.terraformDestroy, runInput(5)));
  const groups = new ResourceManagementClient(t.credential, t.cloud.subscriptionId, t.clientOptions).resourceGroups;
  await expect(groups.get('rg-e2e')).rejects.toMatchObject({ statusCode: 404 });
  // Every host-manager (and its Consul) is gone with its instance.
  for (const s of servers) await expect(httpCall(`http://${s.private_address}:9701/status`, { timeoutInMs: 1_000 })).rejects.toThrow();
}, 300_000);
