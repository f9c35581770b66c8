// A public endpoint that exists (issue 17 item 1), and ACME certificates only for it (issue 11
// item 8), on the full real stack through the real API. A public cluster gets a public IP and a
// load balancer in the ARM twin (a real TCP forwarder on its own loopback address, probing the
// servers), its DNS name resolves to that address, and its servers present the ACME certificate
// on their HTTPS listener: a client that trusts only the ACME root reaches Consul's API through
// the name on 443, while gRPC (and RPC) keep the cluster CA's certificates. A requested rotation
// renews the ACME certificate in place: the same servers, the new certificate served. A private
// cluster has no public IP, no load balancer and orders nothing from the ACME CA (whose rate
// limits every tenant shares), also when updated; its name still resolves to its servers.
import { randomUUID, X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { lookupA } from '../../activities/dns.js';
import { CONSUL_GRPC_TLS_PORT, serverTlsName } from '../../domain/consul-config.js';
import { pebbleRootPem } from '../../devstack/services/pebble.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getSecret, listSecretNames } from '../../store/secrets.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { parse as parseYaml } from 'yaml';
import { arm, clientAccess, clusterNames, followLocation, lifecycleConfig, twinGet, vaultPki } from '../support/lifecycle.js';
import { tlsHandshake } from '../support/tls-handshake.js';
import { clusterPath } from '../security/support.js';

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

interface Endpoints {
  fqdn: string;
  publicEndpoint: boolean;
  privateEndpointUrl: string;
  publicEndpointUrl?: string;
}

async function endpointOf(id: string): Promise<Endpoints> {
  const res = await arm(cp, 'GET', id);
  expect(res.status).toBe(200);
  const p = (JSON.parse(res.body) as { properties: Omit<Endpoints, 'fqdn'> }).properties;
  const { fqdn } = await clusterNames(cp.db, id.toLowerCase());
  return { fqdn, ...p };
}

/** The public IPs and load balancers the twin holds in the cluster's infrastructure resource group. */
async function publicResources(id: string): Promise<{ ips: Array<{ name: string; properties: { ipAddress?: string } }>; lbs: unknown[] }> {
  const { infraResourceGroup } = await clusterNames(cp.db, id.toLowerCase());
  const rg = `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${infraResourceGroup}/providers/Microsoft.Network`;
  const list = async (type: string) => {
    const res = await twinGet(stack, `${rg}/${type}?api-version=2023-11-01`);
    expect(res.status, res.body).toBe(200);
    return (JSON.parse(res.body) as { value: never[] }).value;
  };
  return { ips: await list('publicIPAddresses'), lbs: await list('loadBalancers') };
}

/** The leaf certificate a TLS server at host:port presents for `servername`, verified against `ca` only. */
function servedCertificate(host: string, port: number, servername: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, servername, ca, rejectUnauthorized: true, timeout: 5_000 }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error('no certificate'));
    });
    socket.on('timeout', () => socket.destroy(new Error(`TLS with ${host}:${port} timed out`)));
    socket.on('error', reject);
  });
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

describe.sequential('a public endpoint, and ACME certificates only for it', () => {
  it('a private cluster has no public IP, orders nothing, also when it is updated; its endpoint name still resolves to its servers', async () => {
    const { fqdn, publicEndpoint, publicEndpointUrl } = await endpointOf(privateId);
    expect(publicEndpoint).toBe(false);
    expect(publicEndpointUrl).toBeUndefined();
    expect(await publicResources(privateId)).toEqual({ ips: [], lbs: [] });
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

  it("resolves the public name to the load balancer's public IP, where the ACME certificate alone is trusted; gRPC keeps the cluster CA", async () => {
    const { fqdn, publicEndpointUrl, privateEndpointUrl } = await endpointOf(publicId);
    const names = await clusterNames(cp.db, publicId.toLowerCase());
    expect(publicEndpointUrl).toBe(`https://${fqdn}`);
    expect(privateEndpointUrl).toBe(`https://${names.privateFqdn}:8501`);
    const { ips, lbs } = await publicResources(publicId);
    expect(lbs).toHaveLength(1);
    expect(ips).toHaveLength(1);
    const publicIp = ips[0]!.properties.ipAddress!;
    const servers = (await getClusterServers(cp.db, publicId.toLowerCase())).map((s) => s.address).sort();
    expect(servers).not.toContain(publicIp);
    expect(await lookupA(stack.acme.dnsAddress, fqdn)).toEqual([publicIp]);
    expect(await lookupA(stack.acme.dnsAddress, names.privateFqdn)).toEqual(servers);
    // Only Pebble's root trusted, the name checked: Consul's API answers through the load balancer.
    const acmeRoot = await pebbleRootPem(stack.acme);
    const leader = await httpsGet(publicIp, fqdn, acmeRoot, '/v1/status/leader');
    expect(leader.status, leader.body).toBe(200);
    expect(JSON.parse(leader.body)).toMatch(/^127\.[\d.]+:\d+$/);
    // The cluster CA does not vouch for the public listener; it does for gRPC on every server.
    const caBundlePem = await vaultPki(stack, cp.db).clusterCaBundle(publicId.toLowerCase());
    const { datacenter } = (JSON.parse((await arm(cp, 'GET', publicId)).body) as { properties: { datacenter: string } }).properties;
    await expect(httpsGet(publicIp, fqdn, caBundlePem, '/v1/status/leader')).rejects.toThrow(/certificate/i);
    // consul-k8s as its Helm values say: the servers by the private name, the public name
    // verified on gRPC (the cluster CA's certificate, which carries it) and on HTTPS (the ACME one).
    const { helmValues } = await clientAccess(cp, publicId);
    const { externalServers } = parseYaml(helmValues) as {
      externalServers: { hosts: string[]; tlsServerName: string; useSystemRoots?: boolean };
    };
    expect(externalServers).toMatchObject({ hosts: [names.privateFqdn], tlsServerName: fqdn, useSystemRoots: true });
    for (const address of servers) {
      const grpc = await tlsHandshake({ host: address, port: CONSUL_GRPC_TLS_PORT, ca: caBundlePem, servername: fqdn, alpn: ['h2'] });
      expect(grpc.authorized).toBe(true);
      const oldName = await tlsHandshake({
        host: address,
        port: CONSUL_GRPC_TLS_PORT,
        ca: caBundlePem,
        servername: serverTlsName(datacenter),
        alpn: ['h2'],
      });
      expect(oldName.authorized).toBe(true);
      expect((await servedCertificate(address, 8501, fqdn, acmeRoot)).subjectAltName).toBe(`DNS:${fqdn}`);
    }
  }, 120_000);

  it('rotateCertificates renews the ACME certificate in place: the same servers serve the new one', async () => {
    const { fqdn } = await endpointOf(publicId);
    const { ips } = await publicResources(publicId);
    const publicIp = ips[0]!.properties.ipAddress!;
    const acmeRoot = await pebbleRootPem(stack.acme);
    const before = await servedCertificate(publicIp, 443, fqdn, acmeRoot);
    const servers = await getClusterServers(cp.db, publicId.toLowerCase());
    await runToEnd(await arm(cp, 'POST', `${publicId}/rotateCertificates`), 202);
    const stored = JSON.parse(await vaultPki(stack).decrypt((await getSecret(cp.db, publicId.toLowerCase(), certName(fqdn)))!)) as {
      certificatePem: string;
    };
    const renewed = new X509Certificate(stored.certificatePem);
    expect(renewed.serialNumber).not.toBe(before.serialNumber);
    // Every server behind the load balancer serves the renewed one (each connection may reach another).
    for (const s of servers) expect((await servedCertificate(s.address, 8501, fqdn, acmeRoot)).serialNumber).toBe(renewed.serialNumber);
    expect((await servedCertificate(publicIp, 443, fqdn, acmeRoot)).serialNumber).toBe(renewed.serialNumber);
    expect(await getClusterServers(cp.db, publicId.toLowerCase())).toEqual(servers);
  }, 300_000);
});

/** GET through the public endpoint: to `ip`:443, the certificate checked for `servername` against `ca` only. */
function httpsGet(ip: string, servername: string, ca: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: ip, port: 443, path, servername, ca, rejectUnauthorized: true, timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} through ${ip}:443 timed out`)));
    req.on('error', reject);
    req.end();
  });
}
