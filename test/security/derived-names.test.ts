// Issue 11, item 4: the names a cluster takes in shared namespaces (DNS label, infrastructure
// resource group, PKI mount, Blob container, Terraform state) come from its random id, and
// nothing that carries another cluster's id is overwritten, adopted or removed. A random id
// cannot be steered, so the attack needs the test-only hook (derivedNameOverride) to force
// clusters of another subscription onto the victim's names: all of them at once, and each one
// alone. Every such create fails with DerivedNameOwnedByAnotherCluster at the step that meets the
// name, deleting the failed clusters removes only what is theirs, and the victim's DNS records,
// cloud resources, container, CA and Terraform state are exactly as before and it stays healthy.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import nodeVault from 'node-vault';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CLUSTER_ID_METADATA } from '../../activities/cluster-blobs.js';
import { DERIVED_NAME_OWNED, type DerivedNameKind, type DerivedNameOverride } from '../../activities/cluster-names.js';
import { ConsulAdmin } from '../../activities/consul-admin.js';
import { lookupA, lookupTxt, ownerRecordName } from '../../activities/dns.js';
import { SECRET } from '../../contract/secret-names.js';
import { PG_STATE_SCHEMA } from '../../activities/terraform.js';
import { getClusterServers } from '../../store/clusters.js';
import { getSecret } from '../../store/secrets.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { arm, clientAccess, clusterNames, leftovers, lifecycleConfig, twinGet, vaultPki, type ClusterNames } from '../support/lifecycle.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const victimSub = randomUUID();
const attackerSub = randomUUID();
/** Same cluster name in both subscriptions: with forced ids, every derived name is the same. */
const name = `shared-${randomUUID().slice(0, 6)}`;
const idIn = (sub: string, rg: string) => `/subscriptions/${sub}/resourceGroups/${rg}/providers/HCS.Consul/clusters/${name}`;
const victimId = idIn(victimSub, 'rg-victim');

/** The attackers: which of the victim's names each is forced onto, and the step that must refuse it. */
const attacks: Array<{ rg: string; names?: DerivedNameKind[]; cidr: string; step: string; what: RegExp }> = [
  {
    rg: 'rg-all',
    cidr: '10.81.0.0/16',
    step: 'pki',
    what: /^pki failed: the PKI mount pki-cluster-[0-9a-f]{32} is already in use by another cluster/,
  },
  {
    rg: 'rg-blob',
    names: ['container'],
    cidr: '10.82.0.0/16',
    step: 'pki',
    what: /the Blob container cluster-[0-9a-f]{32} is already in use/,
  },
  {
    rg: 'rg-state',
    names: ['terraformState'],
    cidr: '10.83.0.0/16',
    step: 'infrastructure',
    what: /the Terraform state hcs_[0-9a-f]{32} \(.+\) is already in use/,
  },
  {
    rg: 'rg-group',
    names: ['infraResourceGroup'],
    cidr: '10.84.0.0/16',
    step: 'infrastructure',
    what: /the existing resource \/subscriptions\/[^ ]+\/resourceGroups\/hcs-shared-[0-9a-z-]+ is already in use/i,
  },
  {
    rg: 'rg-dns',
    names: ['dnsLabel'],
    cidr: '10.85.0.0/16',
    step: 'endpoint',
    what: /the DNS name shared-[0-9a-z-]+\.consul\.hcs\.test is already in use/,
  },
];

/** The id every forced name is derived from (the victim's names come from it too). */
const forcedId = randomBytes(16).toString('hex');
const override: DerivedNameOverride = Object.fromEntries([
  [victimId.toLowerCase(), { clusterId: forcedId }],
  ...attacks.map((a) => [idIn(attackerSub, a.rg).toLowerCase(), { clusterId: forcedId, ...(a.names ? { names: a.names } : {}) }]),
]);

let cp: ControlPlane;
let victim: ClusterNames;

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error('this test needs the PostgreSQL store (terraform pg backend)');
  cp = await startControlPlane(stack, { lifecycle: { ...lifecycleConfig(stack), derivedNameOverride: override } });
  await cp.registerSubscription(victimSub);
  await cp.registerSubscription(attackerSub);
});
afterAll(async () => {
  await cp?.close();
});

const body = (cidr: string) => ({ location: 'westeurope', properties: { consulVersion: version, serverCount: 1, network: { cidr } } });

/** The operation's final status document (Succeeded, Failed or Canceled). */
async function settle(statusUrl: string): Promise<{ status: string; error?: { code: string; message: string } }> {
  const end = Date.now() + 540_000;
  for (;;) {
    const res = await arm(cp, 'GET', statusUrl);
    const doc = JSON.parse(res.body) as { status: string; error?: { code: string; message: string } };
    if (['Succeeded', 'Failed', 'Canceled'].includes(doc.status)) return doc;
    if (Date.now() > end) throw new Error(`operation still ${doc.status}: ${statusUrl}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

async function create(id: string, cidr: string) {
  const put = await arm(cp, 'PUT', id, body(cidr));
  expect(put.status, put.body).toBe(201);
  return settle(String(put.headers['azure-asyncoperation']));
}

async function remove(id: string) {
  const del = await arm(cp, 'DELETE', id);
  expect(del.status, del.body).toBe(202);
  const status = String(del.headers['azure-asyncoperation'] ?? del.headers.location).replace('/operationResults/', '/operationStatuses/');
  return settle(status);
}

/** Everything of the victim's that lives under its derived names, as the outside world sees it. */
async function victimWorld(): Promise<Record<string, unknown>> {
  const dnsServer = stack.acme.dnsAddress;
  const sub = stack.cloud.subscriptionId;
  const group = `/subscriptions/${sub}/resourceGroups/${victim.infraResourceGroup}`;
  const getJson = async (path: string) => {
    const res = await twinGet(stack, path);
    return { status: res.status, body: JSON.parse(res.body) as unknown };
  };
  const cloud: Record<string, unknown> = { group: await getJson(`${group}?api-version=2021-04-01`) };
  for (const [type, suffix, apiVersion] of [
    ['Microsoft.Network/networkSecurityGroups', 'nsg', '2023-11-01'],
    ['Microsoft.Network/virtualNetworks', 'vnet', '2023-11-01'],
    ['Microsoft.ManagedIdentity/userAssignedIdentities', 'identity', '2023-01-31'],
    ['Microsoft.Compute/virtualMachineScaleSets', 'server-0', '2024-03-01'],
  ] as const)
    cloud[suffix] = await getJson(`${group}/providers/${type}/${name}-${suffix}?api-version=${apiVersion}`);
  const container = new BlobServiceClient(
    stack.blob.url,
    new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey),
  ).getContainerClient(victim.container);
  const blobs: Array<{ name: string; etag?: string | undefined }> = [];
  for await (const b of container.listBlobsFlat()) blobs.push({ name: b.name, etag: b.properties.etag });
  const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });
  const mounts = (await vault.mounts()) as Record<string, { description?: string; uuid?: string }>;
  const ca = (await vault.read(`${victim.pkiMount}/issuer/cluster-ca`)) as { data: { certificate: string } };
  const state = await cp.db.query<{ data: string }>(`SELECT data FROM ${PG_STATE_SCHEMA}.states WHERE name = $1`, [victim.terraformState]);
  return {
    dns: { a: await lookupA(dnsServer, victim.fqdn), owner: await lookupTxt(dnsServer, ownerRecordName(victim.fqdn)) },
    cloud,
    container: { metadata: (await container.getProperties()).metadata, blobs },
    pki: { mount: mounts[`${victim.pkiMount}/`], ca: ca.data.certificate },
    terraformState: state.rows.map((r) => r.data),
    servers: await getClusterServers(cp.db, victimId.toLowerCase()),
  };
}

/** The victim's Consul answers with a leader through its management token. */
async function victimLeader(): Promise<string> {
  const access = await clientAccess(cp, victimId);
  const stored = await getSecret(cp.db, victimId.toLowerCase(), SECRET.managementToken);
  const token = (JSON.parse(await vaultPki(stack).decrypt(stored!)) as { secretId: string }).secretId;
  return new ConsulAdmin({ url: `https://${access.addresses[0]}:8501`, caPem: access.caPem }).leaderAddress(token);
}

describe("clusters forced onto another cluster's derived names", () => {
  let before: Record<string, unknown>;

  it('the victim is built under names from its forced id, everything marked with its own random id', async () => {
    expect(await create(victimId, '10.80.0.0/16')).toMatchObject({ status: 'Succeeded' });
    victim = await clusterNames(cp.db, victimId.toLowerCase(), { override });
    expect(victim.clusterId).toMatch(/^[0-9a-f]{32}$/);
    expect(victim.clusterId).not.toBe(forcedId);
    expect(victim.container).toBe(`cluster-${forcedId}`);
    before = await victimWorld();
    // Each mark names the victim's own id.
    const world = before as {
      dns: { a: string[]; owner: string[] };
      cloud: Record<string, { status: number; body: { tags?: Record<string, string> } }>;
      container: { metadata: Record<string, string> };
      pki: { mount: { description: string } };
    };
    expect(world.dns.a).toHaveLength(1);
    expect(world.dns.owner).toEqual([`hcs-cluster-id=${victim.clusterId}`]);
    for (const [what, r] of Object.entries(world.cloud)) {
      expect(r.status, what).toBe(200);
      expect(r.body.tags?.['hcs-cluster-id'], what).toBe(victim.clusterId);
    }
    expect(world.container.metadata[CLUSTER_ID_METADATA]).toBe(victim.clusterId);
    expect(world.pki.mount.description).toBe(`hcs-cluster-id=${victim.clusterId}`);
    expect(await victimLeader()).not.toBe('');
  }, 600_000);

  it('every create forced onto a victim name fails with DerivedNameOwnedByAnotherCluster at the step that meets it', async () => {
    const results = await Promise.all(attacks.map((a) => create(idIn(attackerSub, a.rg), a.cidr)));
    for (const [i, a] of attacks.entries()) {
      const r = results[i]!;
      expect(r.status, `${a.rg}: ${JSON.stringify(r)}`).toBe('Failed');
      expect(r.error?.code, a.rg).toBe(DERIVED_NAME_OWNED);
      expect(r.error?.message, a.rg).toMatch(new RegExp(`^${a.step} failed: `));
      expect(r.error?.message, a.rg).toMatch(a.what);
      // The refusal names the contested name, never whose it is.
      expect(r.error?.message).not.toContain(victimSub);
      expect(r.error?.message).not.toContain(victim.clusterId);
      const record = JSON.parse((await arm(cp, 'GET', idIn(attackerSub, a.rg))).body) as { properties: { provisioningState: string } };
      expect(record.properties.provisioningState).toBe('Failed');
    }
    expect(await victimWorld()).toEqual(before);
    expect(await victimLeader()).not.toBe('');
  }, 600_000);

  it('deleting the failed clusters removes only what is theirs: the victim is untouched and healthy', async () => {
    const attackerNames = await Promise.all(attacks.map((a) => clusterNames(cp.db, idIn(attackerSub, a.rg).toLowerCase(), { override })));
    const addresses = await Promise.all(attacks.map((a) => getClusterServers(cp.db, idIn(attackerSub, a.rg).toLowerCase())));
    const results = await Promise.all(attacks.map((a) => remove(idIn(attackerSub, a.rg))));
    for (const [i, a] of attacks.entries()) expect(results[i], a.rg).toMatchObject({ status: 'Succeeded' });
    expect(await victimWorld()).toEqual(before);
    expect(await victimLeader()).not.toBe('');
    // Of each attacker, nothing of its own is left; what it shares with the victim is the victim's.
    for (const [i, a] of attacks.entries()) {
      const left = await leftovers(stack, cp.db, {
        resourceKey: idIn(attackerSub, a.rg).toLowerCase(),
        addresses: addresses[i]!.map((s) => s.address),
        ...attackerNames[i]!,
      });
      const shared = (kind: DerivedNameKind) => !a.names || a.names.includes(kind);
      expect(left, a.rg).toEqual({
        processes: [],
        twin: shared('infraResourceGroup') ? [victim.infraResourceGroup] : [],
        blob: shared('container') ? [victim.container] : [],
        dns: shared('dnsLabel') ? (before as { dns: { a: string[] } }).dns.a : [],
        pki: shared('pkiMount') ? [`${victim.pkiMount}/`] : [],
        secrets: [],
        terraformState: shared('terraformState') ? [victim.terraformState] : [],
        record: [],
      });
    }
  }, 600_000);

  it('the victim itself still deletes everything under its names', async () => {
    const addresses = (await getClusterServers(cp.db, victimId.toLowerCase())).map((s) => s.address);
    expect(await remove(victimId)).toMatchObject({ status: 'Succeeded' });
    expect(await leftovers(stack, cp.db, { resourceKey: victimId.toLowerCase(), addresses, ...victim })).toEqual({
      processes: [],
      twin: [],
      blob: [],
      dns: [],
      pki: [],
      secrets: [],
      terraformState: [],
      record: [],
    });
  }, 600_000);
});
