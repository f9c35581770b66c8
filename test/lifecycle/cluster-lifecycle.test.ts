// The product end to end on the full real stack: the official Azure SDK creates a 3-server
// cluster through our REST API; the lifecycle workflow issues certificates in OpenBao, writes
// secrets and configuration to Azurite, runs terraform + azapi against the ARM twin, whose
// instances run host-manager and real Consul servers; then root token, client config, a real
// client agent, scale to 5, delete - and nothing is left, and no secret is in any history.
import { ResourceManagementClient } from '@azure/arm-resources';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { lookupA } from '../../activities/dns.js';
import { derivedNames } from '../../activities/cluster-names.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { useClientAgents, useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import {
  API_VERSION,
  arm,
  clientAccess,
  clusterSecretValues,
  clusterNames,
  clusterWorkflows,
  consulCall,
  createRootToken,
  historyTexts,
  leftovers,
  lifecycleConfig,
  startClientAgent,
  twinCall,
  twinGet,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { tlsHandshake } from '../support/tls-handshake.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const consul = stack.tools.consul[version]!;
const subscriptionId = randomUUID();
const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-e2e/providers/HCS.Consul/clusters/e2e-${randomUUID().slice(0, 6)}`;
const key = id.toLowerCase();
const work = useScratchFolder('hcs-e2e-');
const cp = useControlPlane(
  stack,
  () => ({ lifecycle: { ...lifecycleConfig(stack), derivedNameOverride: { [devId.toLowerCase()]: { clusterId: devNamesId } } } }),
  { requirePostgres: 'the end-to-end test needs the PostgreSQL store (terraform pg backend)' },
);
const agents = useClientAgents(work);
let client: ResourceManagementClient;
let access: ClusterAccess;
let rootToken = '';
const secrets: string[] = [];
let fqdn = '';
const everAddresses = new Set<string>();
const devName = `dev-${randomUUID().slice(0, 6)}`;
const devId = `/subscriptions/${subscriptionId}/resourceGroups/rg-e2e/providers/HCS.Consul/clusters/${devName}`;
/** The development cluster's names come from this id (the test-only hook), so the test knows them before the cluster exists. */
const devNamesId = randomBytes(16).toString('hex');

beforeAll(async () => {
  await cp.registerSubscription(subscriptionId);
  const credential: TokenCredential = {
    getToken: async (): Promise<AccessToken> => ({ token: await cp.mintJwt('arm'), expiresOnTimestamp: Date.now() + 600_000 }),
  };
  client = new ResourceManagementClient(credential, subscriptionId, {
    endpoint: cp.api.restUrl,
    credentialScopes: ['https://management.hcs.test/.default'],
    tlsOptions: { ca: cp.caCertPem },
    retryOptions: { maxRetries: 0 },
  });
});

/** Voters in `consul operator raft list-peers` (its table has a Voter column of true/false). */
async function voters(address: string): Promise<number> {
  const out = execFileSync(consul, ['operator', 'raft', 'list-peers', `-http-addr=https://${address}:8501`, `-ca-file=${caFile()}`], {
    env: { ...process.env, CONSUL_HTTP_TOKEN: rootToken },
  }).toString();
  const [header, ...rows] = out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  const voterColumn = header!.indexOf('Voter');
  const stateColumn = header!.indexOf('State');
  expect(voterColumn).toBeGreaterThan(0);
  return rows.filter((r) => r[voterColumn] === 'true' && ['leader', 'follower'].includes(r[stateColumn]!)).length;
}

function caFile(): string {
  const f = join(work, 'ca.pem');
  writeFileSync(f, access.caPem);
  return f;
}

async function zones(address: string, expected: number): Promise<string[]> {
  for (let i = 0; ; i++) {
    const res = await consulCall(access, address, '/v1/catalog/nodes', rootToken);
    const nodes = (JSON.parse(res.body) as Array<{ Meta: Record<string, string> | null; Node: string }>).filter((n) => n.Meta?.zone);
    if (nodes.length >= expected || i > 60) return nodes.map((n) => n.Meta!.zone!).sort();
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

describe.sequential('cluster lifecycle on the real stack', () => {
  it('creates a 3-server cluster through the Azure SDK and waits for Succeeded', async () => {
    const poller = await client.resources.beginCreateOrUpdateById(
      id,
      API_VERSION,
      { location: 'westeurope', properties: { consulVersion: version, serverCount: 3, network: { cidr: '10.60.0.0/16' } } },
      { updateIntervalInMs: 1_000 },
    );
    const created = await poller.pollUntilDone();
    expect(created.properties).toMatchObject({ provisioningState: 'Succeeded', serverCount: 3, currentConsulVersion: version });
    const [op] = await listOperations(cp.db, key);
    expect(op).toMatchObject({ kind: 'create', status: 'Succeeded', percentComplete: 100, step: 'done' });
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3']);
    for (const s of servers) everAddresses.add(s.address);
    // The private endpoint is the servers' private name; the endpoint name resolves to them too (a private cluster).
    const names = await clusterNames(cp.db, key);
    expect((created.properties as { privateEndpointUrl: string }).privateEndpointUrl).toBe(`https://${names.privateFqdn}:8501`);
    fqdn = names.fqdn;
  }, 600_000);

  it('hands out client config and a root token; raft shows 3 voters in 3 zones; anonymous and plain HTTP are refused', async () => {
    access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(3);
    expect(access.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // The Helm values (consul-k8s with Consul Dataplane) name the servers by the endpoint name
    // (it resolves to them, below), and the ports and TLS server name they give are the ones the
    // servers serve with certificates the CA bundle verifies for that name.
    const helm = parse(access.helmValues) as {
      global: { datacenter: string };
      client: { enabled: boolean };
      externalServers: { hosts: string[]; httpsPort: number; grpcPort: number; tlsServerName: string };
    };
    expect(helm.global.datacenter).toBe(access.clientConfig.datacenter);
    expect(helm.client.enabled).toBe(false);
    expect(helm.externalServers).toMatchObject({ hosts: [fqdn], httpsPort: 8501, grpcPort: 8503 });
    for (const host of access.addresses) {
      const tls = { host, ca: access.caPem, servername: helm.externalServers.tlsServerName };
      expect(await tlsHandshake({ ...tls, port: helm.externalServers.httpsPort })).toMatchObject({ authorized: true });
      expect(await tlsHandshake({ ...tls, port: helm.externalServers.grpcPort, alpn: ['h2'] })).toEqual({
        authorized: true,
        alpnProtocol: 'h2',
      });
    }
    const token = await createRootToken(cp, id);
    rootToken = token.secretId;
    expect((await clientAccess(cp, id)).helmValues).not.toContain(rootToken);
    expect(await voters(access.addresses[0]!)).toBe(3);
    expect(await zones(access.addresses[0]!, 3)).toEqual(['1', '2', '3']);
    // ACLs enforced: no token, no data.
    const put = await httpCall(`https://${access.addresses[0]}:8501/v1/kv/e2e/guarded`, {
      method: 'PUT',
      ca: access.caPem,
      headers: { 'x-consul-token': rootToken },
      body: '"value"',
    });
    expect(put.body).toBe('true');
    expect((await consulCall(access, access.addresses[1]!, '/v1/kv/e2e/guarded', rootToken)).status).toBe(200);
    expect((await consulCall(access, access.addresses[1]!, '/v1/kv/e2e/guarded')).status).toBe(403);
    expect((await consulCall(access, access.addresses[1]!, '/v1/agent/self')).status).toBe(403);
    // TLS only: the plain HTTP port is closed on every server.
    for (const a of access.addresses) await expect(httpCall(`http://${a}:8500/v1/status/leader`, { timeoutInMs: 2_000 })).rejects.toThrow();
    // The servers' identity may read its own cluster's container and nothing else.
    const storageScope = `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/${stack.blob.accountName}`;
    const containerScope = `${storageScope}/blobServices/default/containers/${(await clusterNames(cp.db, key)).container}`;
    const assignments = (path: string) =>
      twinGet(stack, path).then(
        (r) =>
          (JSON.parse(r.body) as { value: Array<{ properties: { scope: string; principalId: string; roleDefinitionId: string } }> }).value,
      );
    const mine = await assignments(
      `${containerScope}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=atScope()`,
    );
    expect(mine).toHaveLength(1);
    expect(mine[0]!.properties.roleDefinitionId).toMatch(/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1$/);
    const everywhere = await assignments(
      `/subscriptions/${stack.cloud.subscriptionId}/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent(`principalId eq '${mine[0]!.properties.principalId}'`)}`,
    );
    expect(everywhere.map((a) => a.properties.scope.toLowerCase())).toEqual([containerScope.toLowerCase()]);
    // The endpoint name (the Helm values' external server host) resolves to the servers.
    expect(await lookupA(stack.acme.dnsAddress, fqdn)).toEqual([...access.addresses].sort());
    // A second rotation replaces the first token: the old one stops working.
    const second = await createRootToken(cp, id);
    expect((await consulCall(access, access.addresses[0]!, '/v1/acl/token/self', rootToken)).status).toBe(403);
    rootToken = second.secretId;
    expect((await consulCall(access, access.addresses[0]!, '/v1/acl/token/self', rootToken)).status).toBe(200);
    secrets.push(token.secretId, second.secretId, ...(await clusterSecretValues(stack, cp.db, key)));
  }, 300_000);

  it('gives a client configuration that passes `consul validate` and joins a real client agent', async () => {
    const dir = join(work, 'client');
    const { address, configDir } = await startClientAgent(agents, {
      access,
      rootToken,
      consul,
      dir,
      http: false,
      dnsServer: stack.acme.dnsAddress,
    });
    execFileSync(consul, ['validate', configDir]);
    // It registered itself in the catalog with its ACL token (ACLs and TLS both worked for it).
    const nodes = JSON.parse((await consulCall(access, access.addresses[0]!, '/v1/catalog/nodes', rootToken)).body) as Array<{
      Address: string;
    }>;
    for (let i = 0; i < 30 && !nodes.some((n) => n.Address === address); i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      nodes.splice(
        0,
        nodes.length,
        ...(JSON.parse((await consulCall(access, access.addresses[0]!, '/v1/catalog/nodes', rootToken)).body) as []),
      );
    }
    expect(nodes.some((n) => n.Address === address)).toBe(true);
    await agents.stop();
  }, 300_000);

  it('scales 3 to 5: two servers join in zones 1 and 2', async () => {
    const poller = await client.resources.beginUpdateById(
      id,
      API_VERSION,
      { properties: { serverCount: 5 } },
      { updateIntervalInMs: 1_000 },
    );
    await poller.pollUntilDone();
    const [op] = await listOperations(cp.db, key);
    expect(op).toMatchObject({ kind: 'scale', status: 'Succeeded' });
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.zone)).toEqual(['1', '2', '3', '1', '2']);
    for (const s of servers) everAddresses.add(s.address);
    access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(5);
    expect(await voters(access.addresses[4]!)).toBe(5);
    expect(await zones(access.addresses[0]!, 5)).toEqual(['1', '1', '2', '2', '3']);
    // Metering: STANDARD plan, server hours accumulating since the create.
    const billing = JSON.parse((await arm(cp, 'POST', `${id}/billingInfo`)).body) as { plan: string; serverHoursThisMonth: number };
    expect(billing.plan).toBe('STANDARD');
    expect(billing.serverHoursThisMonth).toBeGreaterThan(0);
    expect(billing.serverHoursThisMonth).toBeLessThan(1);
  }, 600_000);

  it('scales 5 back to 3: the two newest servers leave raft, their instances and blobs go', async () => {
    const before = await getClusterServers(cp.db, key);
    const poller = await client.resources.beginUpdateById(
      id,
      API_VERSION,
      { properties: { serverCount: 3 } },
      { updateIntervalInMs: 1_000 },
    );
    await poller.pollUntilDone();
    const [op] = await listOperations(cp.db, key);
    expect(op).toMatchObject({ kind: 'scale', status: 'Succeeded' });
    const servers = await getClusterServers(cp.db, key);
    expect(servers.map((s) => s.address)).toEqual(before.slice(0, 3).map((s) => s.address));
    access = await clientAccess(cp, id);
    expect(access.addresses).toHaveLength(3);
    expect(await voters(access.addresses[0]!)).toBe(3);
    for (const gone of before.slice(3))
      await expect(httpCall(`http://${gone.address}:9701/status`, { timeoutInMs: 1_000 })).rejects.toThrow();
    const names: string[] = [];
    const container = new BlobServiceClient(
      stack.blob.url,
      new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey),
    ).getContainerClient((await clusterNames(cp.db, key)).container);
    for await (const b of container.listBlobsFlat({ prefix: 'servers/' })) names.push(b.name.split('/')[1]!);
    expect([...new Set(names)].sort()).toEqual(['0', '1', '2']);
    // The KV data written before both scale operations is still there.
    expect((await consulCall(access, access.addresses[2]!, '/v1/kv/e2e/guarded', rootToken)).status).toBe(200);
  }, 600_000);

  it('deletes the cluster: Succeeded, GET 404, and nothing is left anywhere', async () => {
    const names = await clusterNames(cp.db, key);
    expect(names.fqdn).toBe(fqdn);
    const deleter = await client.resources.beginDeleteById(id, API_VERSION, { updateIntervalInMs: 1_000 });
    await deleter.pollUntilDone();
    await expect(client.resources.getById(id, API_VERSION)).rejects.toMatchObject({ statusCode: 404 });
    const [op] = await listOperations(cp.db, key);
    expect(op).toMatchObject({ kind: 'delete', status: 'Succeeded' });
    const groups = await arm(cp, 'GET', `/subscriptions/${subscriptionId}/resourceGroups/rg-e2e/providers/HCS.Consul/clusters`);
    expect(JSON.parse(groups.body)).toMatchObject({ value: [] });
    const left = await leftovers(stack, cp.db, {
      resourceKey: key,
      addresses: [...everAddresses],
      ...names,
    });
    expect(left).toEqual({ processes: [], twin: [], blob: [], dns: [], pki: [], secrets: [], terraformState: [], record: [] });
  }, 600_000);

  it('left no secret in any workflow history: no PEM block, gossip key or token, decoded or raw', async () => {
    // Visibility follows the workflows' closing by a moment.
    let workflows: string[] = [];
    for (let i = 0; i < 30 && workflows.length < 6; i++) {
      if (i) await new Promise((r) => setTimeout(r, 500));
      workflows = await clusterWorkflows(stack, cp.payloadCodec, key);
    }
    // create, two root-token rotations, two scales, delete.
    expect(workflows.length).toBe(6);
    const texts = await historyTexts(stack, cp.payloadCodec, workflows);
    expect(texts.length).toBeGreaterThan(50);
    expect(secrets.length).toBe(6);
    for (const t of texts) {
      expect(t).not.toMatch(/-----BEGIN [A-Z ]+-----/);
      for (const s of secrets) expect(t.includes(s)).toBe(false);
    }
  }, 120_000);
});

describe('a development cluster grows', () => {
  it('creates 1 server (adopting a resource group a crashed run left behind) and scales 1 to 3', async () => {
    // What a terraform killed mid-apply leaves: the resource exists in the cloud, not in the state.
    const orphan = await twinCall(
      stack,
      'PUT',
      `/subscriptions/${stack.cloud.subscriptionId}/resourcegroups/${derivedNames(devName, devNamesId).infraResourceGroup}?api-version=2021-04-01`,
      { location: 'westeurope' },
    );
    expect([200, 201]).toContain(orphan.status);
    const created = await (
      await client.resources.beginCreateOrUpdateById(
        devId,
        API_VERSION,
        { location: 'westeurope', properties: { consulVersion: version, serverCount: 1, network: { cidr: '10.62.0.0/16' } } },
        { updateIntervalInMs: 1_000 },
      )
    ).pollUntilDone();
    expect(created.properties).toMatchObject({ provisioningState: 'Succeeded', serverCount: 1 });
    // The adopted group now carries the cluster's own (random) id.
    const devNames = await clusterNames(cp.db, devId.toLowerCase(), { override: { [devId.toLowerCase()]: { clusterId: devNamesId } } });
    const group = await twinGet(
      stack,
      `/subscriptions/${stack.cloud.subscriptionId}/resourcegroups/${devNames.infraResourceGroup}?api-version=2021-04-01`,
    );
    expect((JSON.parse(group.body) as { tags?: Record<string, string> }).tags?.['hcs-cluster-id']).toBe(devNames.clusterId);
    expect(devNames.clusterId).not.toBe(devNamesId);
    await (
      await client.resources.beginUpdateById(devId, API_VERSION, { properties: { serverCount: 3 } }, { updateIntervalInMs: 1_000 })
    ).pollUntilDone();
    const devAccess = await clientAccess(cp, devId);
    expect(devAccess.addresses).toHaveLength(3);
    const devRoot = (await createRootToken(cp, devId)).secretId;
    const raft = JSON.parse((await consulCall(devAccess, devAccess.addresses[2]!, '/v1/operator/raft/configuration', devRoot)).body) as {
      Servers: Array<{ Voter: boolean }>;
    };
    expect(raft.Servers.filter((v) => v.Voter)).toHaveLength(3);
    await (await client.resources.beginDeleteById(devId, API_VERSION, { updateIntervalInMs: 1_000 })).pollUntilDone();
    await expect(client.resources.getById(devId, API_VERSION)).rejects.toMatchObject({ statusCode: 404 });
  }, 600_000);
});
