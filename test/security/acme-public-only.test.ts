// Issue 11, item 8 (ACME part): the ACME certificate authority's rate limits are shared by every
// tenant, so a certificate is ordered only for a cluster with a public endpoint. A tenant creates
// a private cluster (publicEndpoint left at its default, false) and updates it, through the real
// API on the real stack: no order reaches Pebble (its DNS-01 server is never asked for the
// challenge record), no certificate is stored; the endpoint name still resolves to the servers.
// A public cluster gets its certificate from Pebble, and a later update orders nothing new.
import { randomUUID, X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lookupA } from '../../activities/dns.js';
import { pebbleRootPem } from '../../devstack/services/pebble.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getSecret, listSecretNames } from '../../store/secrets.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { arm, followLocation, lifecycleConfig, vaultPki } from '../support/lifecycle.js';
import { clusterPath } from './support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const subscriptionId = randomUUID();
const privateId = clusterPath(subscriptionId, 'rg-acme', `private-${randomUUID().slice(0, 6)}`);
const publicId = clusterPath(subscriptionId, 'rg-acme', `public-${randomUUID().slice(0, 6)}`);
let cp: ControlPlane;

/** Every DNS query challtestsrv (Pebble's DNS-01 server) answered for the challenge name of `fqdn`. */
async function challengeQueries(fqdn: string): Promise<number> {
  const res = await httpCall(`${stack.acme.dnsManagementUrl}/dns-request-history`, {
    method: 'POST',
    body: JSON.stringify({ host: `_acme-challenge.${fqdn.toLowerCase()}` }),
  });
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as unknown[]).length;
}

async function runToEnd(res: { status: number; body: string; headers: Record<string, unknown> }, expected: number): Promise<void> {
  expect(res.status, res.body).toBe(expected);
  const url =
    expected === 201
      ? String(res.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/')
      : String(res.headers.location);
  const done = await followLocation(cp, url);
  expect(done.status, done.body).toBe(200);
}

async function create(id: string, cidr: string, extra: Record<string, unknown>): Promise<void> {
  await runToEnd(
    await arm(cp, 'PUT', id, {
      location: 'westeurope',
      properties: { consulVersion: version, serverCount: 1, network: { cidr }, ...extra },
    }),
    201,
  );
}

async function endpointOf(id: string): Promise<{ fqdn: string; publicEndpoint: boolean }> {
  const res = await arm(cp, 'GET', id);
  expect(res.status).toBe(200);
  const p = (JSON.parse(res.body) as { properties: { privateEndpointUrl: string; publicEndpoint: boolean } }).properties;
  return { fqdn: new URL(p.privateEndpointUrl).hostname, publicEndpoint: p.publicEndpoint };
}

const certName = (fqdn: string) => `acme/certs/${fqdn}`;

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error('this test needs the PostgreSQL store (terraform pg backend)');
  cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
  await cp.registerSubscription(subscriptionId);
  await Promise.all([create(privateId, '10.182.0.0/16', {}), create(publicId, '10.183.0.0/16', { publicEndpoint: true })]);
}, 600_000);

afterAll(async () => {
  await Promise.all(
    [privateId, publicId].map(async (id) => {
      const del = await arm(cp, 'DELETE', id).catch(() => undefined);
      if (del?.status === 202) await followLocation(cp, String(del.headers.location)).catch(() => undefined);
    }),
  );
  await cp?.close();
}, 600_000);

describe.sequential('ACME certificates only for public endpoints', () => {
  it('a private cluster orders nothing, also when it is updated; its endpoint name still resolves to its servers', async () => {
    const { fqdn, publicEndpoint } = await endpointOf(privateId);
    expect(publicEndpoint).toBe(false);
    expect(await challengeQueries(fqdn)).toBe(0);
    expect(await listSecretNames(cp.db, privateId.toLowerCase())).not.toContain(certName(fqdn));
    const servers = (await getClusterServers(cp.db, privateId.toLowerCase())).map((s) => s.address).sort();
    expect(await lookupA(stack.acme.dnsAddress, fqdn)).toEqual(servers);
    // An update converges the cluster again (ensureEndpoint runs again): still no order.
    await runToEnd(await arm(cp, 'PATCH', privateId, { properties: { snapshotPolicy: { intervalHours: 2, retentionCount: 4 } } }), 202);
    expect(await challengeQueries(fqdn)).toBe(0);
    expect(await listSecretNames(cp.db, privateId.toLowerCase())).not.toContain(certName(fqdn));
    expect(await lookupA(stack.acme.dnsAddress, fqdn)).toEqual(servers);
  }, 300_000);

  it('a public cluster has a certificate from Pebble for its endpoint name; an update keeps it and orders nothing new', async () => {
    const { fqdn, publicEndpoint } = await endpointOf(publicId);
    expect(publicEndpoint).toBe(true);
    const validations = await challengeQueries(fqdn);
    expect(validations).toBeGreaterThan(0);
    const stored = await getSecret(cp.db, publicId.toLowerCase(), certName(fqdn));
    expect(stored).toMatch(/^vault:v\d+:/);
    const { certificatePem } = JSON.parse(await vaultPki(stack).decrypt(stored!)) as { certificatePem: string };
    const [leafPem, intermediatePem] = certificatePem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    const leaf = new X509Certificate(leafPem);
    const intermediate = new X509Certificate(intermediatePem!);
    expect(leaf.subjectAltName).toBe(`DNS:${fqdn}`);
    expect(leaf.verify(intermediate.publicKey)).toBe(true);
    expect(intermediate.verify(new X509Certificate(await pebbleRootPem(stack.acme)).publicKey)).toBe(true);
    await runToEnd(await arm(cp, 'PATCH', publicId, { properties: { snapshotPolicy: { intervalHours: 2, retentionCount: 4 } } }), 202);
    expect(await challengeQueries(fqdn)).toBe(validations);
    expect(await getSecret(cp.db, publicId.toLowerCase(), certName(fqdn))).toBe(stored);
  }, 300_000);
});
