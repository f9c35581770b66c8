// WAN federation on the full real stack: a primary hands out a federation token, a cluster
// created with it becomes a secondary datacenter (shared gossip key and ACL system, ACL
// replication, servers in the primary's WAN pool, cross-datacenter RPC over TLS with each
// cluster's own intermediate under the common root). Wrong tokens and datacenter names are
// refused and change nothing; the primary cannot be deleted while it has a secondary; a deleted
// secondary leaves the WAN pool and takes its tokens out of the primary.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { serverPrefix } from '../../activities/cluster-blobs.js';
import { SECRET } from '../../contract/secret-names.js';
import { httpCall } from '../../lib/http.js';
import { getSecret } from '../../store/secrets.js';
import { createCluster, useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  consulCall,
  createRootToken,
  followLocation,
  leftovers,
  lifecycleConfig,
  vaultPki,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { getClusterServers } from '../../store/clusters.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const consul = stack.tools.consul[version]!;
const sub = randomUUID();
const suffix = randomUUID().slice(0, 6);
const primaryId = `/subscriptions/${sub}/resourceGroups/rg-fed/providers/HCS.Consul/clusters/primary-${suffix}`;
const secondaryId = `/subscriptions/${sub}/resourceGroups/rg-fed-west/providers/HCS.Consul/clusters/secondary-${suffix}`;
const work = useScratchFolder('hcs-fed-');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }));
let primary: ClusterAccess;
let secondary: ClusterAccess;
let root = '';
let token = '';

beforeAll(async () => {
  await cp.registerSubscription(sub);
});

const body = (o: { datacenter: string; cidr: string; federationToken?: string }) => ({
  location: 'westeurope',
  properties: {
    consulVersion: version,
    serverCount: 1,
    datacenter: o.datacenter,
    network: { cidr: o.cidr },
    ...(o.federationToken !== undefined ? { federationToken: o.federationToken } : {}),
  },
});

async function create(id: string, b: unknown): Promise<void> {
  await createCluster(cp, id, b);
}

async function remove(id: string): Promise<void> {
  const del = await arm(cp, 'DELETE', id);
  expect(del.status, del.body).toBe(202);
  const done = await followLocation(cp, String(del.headers.location));
  expect([200, 204], done.body).toContain(done.status);
}

/** `consul members -wan` on a server: gossip name, address, status and datacenter of each row. */
function wanMembers(access: ClusterAccess, address: string): Array<{ name: string; status: string; dc: string }> {
  const ca = join(work, `ca-${address}.pem`);
  writeFileSync(ca, access.caPem);
  const out = execFileSync(consul, ['members', '-wan', `-http-addr=https://${address}:8501`, `-ca-file=${ca}`], {
    env: { ...process.env, CONSUL_HTTP_TOKEN: root },
  }).toString();
  const [header, ...rows] = out
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/));
  const col = (name: string) => header!.indexOf(name);
  expect(col('Status')).toBeGreaterThan(0);
  return rows.map((r) => ({ name: r[col('Node')]!, status: r[col('Status')]!, dc: r[col('DC')]! }));
}

async function eventually<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

describe.sequential('WAN federation', () => {
  it('creates the primary and hands out a federation token to operators only', async () => {
    await create(primaryId, body({ datacenter: 'dc1', cidr: '10.90.0.0/16' }));
    const res = await arm(cp, 'POST', `${primaryId}/createFederationToken`);
    expect(res.status, res.body).toBe(200);
    const doc = JSON.parse(res.body) as { federationToken: string; expiresAt: string };
    // One hour by default (HCS_FEDERATION_TOKEN_TTL_SECONDS).
    expect(Date.parse(doc.expiresAt)).toBeGreaterThan(Date.now() + 59 * 60_000);
    expect(Date.parse(doc.expiresAt)).toBeLessThanOrEqual(Date.now() + 3600_000);
    token = doc.federationToken;
    primary = await clientAccess(cp, primaryId);
    root = (await createRootToken(cp, primaryId)).secretId;
  }, 600_000);

  it('refuses a tampered token, a taken datacenter name and a token for an existing cluster, changing nothing', async () => {
    const tampered = `${token.slice(0, -6)}${token.slice(-6) === 'AAAAAA' ? 'BBBBBB' : 'AAAAAA'}`;
    const cases: Array<[unknown, string, string]> = [
      [
        body({ datacenter: 'dc2', cidr: '10.91.0.0/16', federationToken: tampered }),
        'InvalidFederationToken',
        'properties.federationToken',
      ],
      [
        body({ datacenter: 'dc2', cidr: '10.91.0.0/16', federationToken: 'not-a-token' }),
        'InvalidFederationToken',
        'properties.federationToken',
      ],
      [body({ datacenter: 'dc1', cidr: '10.91.0.0/16', federationToken: token }), 'DatacenterInUse', 'properties.datacenter'],
    ];
    for (const [b, code, target] of cases) {
      const res = await arm(cp, 'PUT', secondaryId, b);
      expect(res.status, res.body).toBe(400);
      const err = (JSON.parse(res.body) as { error: { code: string; details?: Array<{ code: string; target: string }> } }).error;
      expect([err.code, ...(err.details ?? []).map((d) => d.code)]).toContain(code);
      expect(JSON.stringify(err)).toContain(target);
      expect((await arm(cp, 'GET', secondaryId)).status).toBe(404);
    }
    // The primary cannot join a federation after the fact (PUT with its own body plus the token).
    const before = await arm(cp, 'GET', primaryId);
    const again = await arm(cp, 'PUT', primaryId, body({ datacenter: 'dc1', cidr: '10.90.0.0/16', federationToken: token }));
    expect(again.status, again.body).toBe(400);
    expect(again.body).toContain('properties.federationToken');
    const after = await arm(cp, 'GET', primaryId);
    expect(JSON.parse(after.body)).toEqual(JSON.parse(before.body));
  }, 60_000);

  it('creates a secondary that joins the primary over the WAN, with ACLs replicated from the primary', async () => {
    await create(secondaryId, body({ datacenter: 'dc2', cidr: '10.91.0.0/16', federationToken: token }));
    const got = JSON.parse((await arm(cp, 'GET', secondaryId)).body) as { properties: Record<string, unknown> };
    expect(got.properties.primaryClusterId).toBe(primaryId);
    expect(got.properties).not.toHaveProperty('federationToken');
    expect(JSON.stringify(got)).not.toContain(token);
    secondary = await clientAccess(cp, secondaryId);
    // What the secondary's server runs with (from its Blob prefix, as host-manager reads it).
    const blobs = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
    const config = JSON.parse(
      (
        await blobs
          .getContainerClient((await clusterNames(cp.db, secondaryId.toLowerCase())).container)
          .getBlobClient(`${serverPrefix(0)}consul.json`)
          .downloadToBuffer()
      ).toString('utf8'),
    ) as {
      primary_datacenter: string;
      retry_join_wan: string[];
      acl: { enable_token_replication: boolean; tokens: Record<string, string> };
    };
    expect(config.primary_datacenter).toBe('dc1');
    expect(config.retry_join_wan).toEqual(primary.addresses);
    expect(config.acl.enable_token_replication).toBe(true);
    expect(config.acl.tokens.replication).toMatch(/^[0-9a-f-]{36}$/);
    expect(config.acl.tokens.initial_management).not.toBe(config.acl.tokens.replication);

    for (const id of [primaryId, secondaryId]) {
      const fed = await arm(cp, 'POST', `${id}/getFederation`);
      expect(fed.status, fed.body).toBe(200);
      expect(JSON.parse(fed.body)).toEqual({
        primaryClusterId: primaryId,
        secondaryClusterIds: [secondaryId],
        datacenters: ['dc1', 'dc2'],
      });
    }
    const fromSecondary = await arm(cp, 'POST', `${secondaryId}/createFederationToken`);
    expect(fromSecondary.status).toBe(409);
    expect(fromSecondary.body).toContain('NotAPrimaryCluster');

    // The real CLI on the primary sees both datacenters' servers alive in the WAN pool.
    const members = await eventually('both datacenters alive in the WAN pool', async () => {
      const m = wanMembers(primary, primary.addresses[0]!);
      return m.filter((x) => x.status === 'alive').length === 2 ? m : undefined;
    });
    expect(members.map((m) => m.dc).sort()).toEqual(['dc1', 'dc2']);
    // The primary's root token works in the secondary (one ACL system) ...
    const dcs = await consulCall(secondary, secondary.addresses[0]!, '/v1/catalog/datacenters', root);
    expect(dcs.status).toBe(200);
    expect((JSON.parse(dcs.body) as string[]).sort()).toEqual(['dc1', 'dc2']);
    // ... and cross-datacenter RPC works both ways over verified TLS: a write into dc2 through
    // the primary's API, read back in dc1 through the secondary's.
    const write = await consulPut(primary, primary.addresses[0]!, '/v1/kv/federated?dc=dc2', 'from-dc1');
    expect(write.status, write.body).toBe(200);
    const read = await consulCall(secondary, secondary.addresses[0]!, '/v1/kv/federated?raw', root);
    expect(read.body).toBe('from-dc1');
    const back = await consulPut(secondary, secondary.addresses[0]!, '/v1/kv/back?dc=dc1', 'from-dc2');
    expect(back.status, back.body).toBe(200);
    expect((await consulCall(primary, primary.addresses[0]!, '/v1/kv/back?raw', root)).body).toBe('from-dc2');
    // ACL replication runs in the secondary.
    const replication = JSON.parse((await consulCall(secondary, secondary.addresses[0]!, '/v1/acl/replication', root)).body) as {
      Enabled: boolean;
      Running: boolean;
      SourceDatacenter: string;
    };
    expect(replication).toMatchObject({ Enabled: true, Running: true, SourceDatacenter: 'dc1' });
  }, 600_000);

  it('keeps the primary while it has a secondary; a deleted secondary leaves the WAN pool and the primary', async () => {
    const refused = await arm(cp, 'DELETE', primaryId);
    expect(refused.status, refused.body).toBe(409);
    expect(refused.body).toContain('FederationHasSecondaries');
    expect(refused.body).toContain(secondaryId);
    expect(
      (JSON.parse((await arm(cp, 'GET', primaryId)).body) as { properties: { provisioningState: string } }).properties.provisioningState,
    ).toBe('Succeeded');

    const secondaryKey = secondaryId.toLowerCase();
    const pki = vaultPki(stack);
    const agentAccessor = (
      JSON.parse(await pki.decrypt((await getSecret(cp.db, secondaryKey, SECRET.agentToken))!)) as { accessorId: string }
    ).accessorId;
    expect((await consulCall(primary, primary.addresses[0]!, `/v1/acl/token/${agentAccessor}`, root)).status).toBe(200);
    const secondaryServers = await getClusterServers(cp.db, secondaryKey);
    const secondaryNames = await clusterNames(cp.db, secondaryKey);
    expect(
      new URL(
        (JSON.parse((await arm(cp, 'GET', secondaryId)).body) as { properties: { privateEndpointUrl: string } }).properties
          .privateEndpointUrl,
      ).hostname,
    ).toBe(secondaryNames.privateFqdn);
    await remove(secondaryId);

    const members = wanMembers(primary, primary.addresses[0]!);
    expect(members.map((m) => m.dc)).toEqual(['dc1']);
    expect((await consulCall(primary, primary.addresses[0]!, `/v1/acl/token/${agentAccessor}`, root)).status).not.toBe(200);
    const fed = JSON.parse((await arm(cp, 'POST', `${primaryId}/getFederation`)).body) as unknown;
    expect(fed).toEqual({ primaryClusterId: primaryId, secondaryClusterIds: [], datacenters: ['dc1'] });
    expect(
      await leftovers(stack, cp.db, {
        resourceKey: secondaryKey,
        addresses: secondaryServers.map((s) => s.address),
        ...secondaryNames,
      }),
    ).toEqual(NOTHING);
  }, 600_000);

  it('deletes a whole federation when its subscription is Deleted, secondaries and primary at once, leaving nothing', async () => {
    const thirdId = `/subscriptions/${sub}/resourceGroups/rg-fed-north/providers/HCS.Consul/clusters/third-${suffix}`;
    const fresh = JSON.parse((await arm(cp, 'POST', `${primaryId}/createFederationToken`)).body) as { federationToken: string };
    await create(thirdId, body({ datacenter: 'dc3', cidr: '10.92.0.0/16', federationToken: fresh.federationToken }));
    const before = [];
    for (const id of [primaryId, thirdId]) {
      const key = id.toLowerCase();
      const got = JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { privateEndpointUrl: string } };
      const names = await clusterNames(cp.db, key);
      expect(new URL(got.properties.privateEndpointUrl).hostname).toBe(names.privateFqdn);
      before.push({ id, resourceKey: key, addresses: (await getClusterServers(cp.db, key)).map((s) => s.address), ...names });
    }
    const deleted = await arm(cp, 'PUT', `${cp.api.restUrl}/subscriptions/${sub}?api-version=2.0`, { state: 'Deleted' });
    expect(deleted.status, deleted.body).toBe(200);
    for (const c of before) {
      await eventually(`${c.id} gone`, async () => ((await arm(cp, 'GET', c.id)).status === 404 ? true : undefined), 300_000);
      expect(await leftovers(stack, cp.db, c)).toEqual(NOTHING);
    }
  }, 600_000);
});

const NOTHING = { processes: [], twin: [], blob: [], dns: [], pki: [], secrets: [], terraformState: [], record: [] };

function consulPut(access: ClusterAccess, address: string, path: string, value: string) {
  return httpCall(`https://${address}:8501${path}`, { method: 'PUT', ca: access.caPem, headers: { 'x-consul-token': root }, body: value });
}
