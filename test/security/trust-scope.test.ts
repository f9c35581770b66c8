// Issue 11, item 9: a cluster trusts only its own CA. Two tenants' clusters with the same
// datacenter name (both dc1, so both hold certificates for server.dc1.consul) are created through
// the real API on the real stack. Cluster A's CA bundle (the client configuration customers get,
// and its servers' ca.pem) is exactly A's intermediate CA, not the shared root; with it, B's
// server certificate is refused by Go's TLS (the consul CLI, even with B's valid root token), by
// Node's, and by a real Consul client agent configured with A's client configuration and pointed
// at B's server; the same agent joins A. B is untouched: same members, still healthy.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import nodeVault from 'node-vault';
import { spawn, spawnSync } from 'node:child_process';
import { randomInt, randomUUID, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serverPrefix } from '../../activities/cluster-blobs.js';
import { createCluster, useClientAgents, useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterNames,
  consulCall,
  createRootToken,
  followLocation,
  lifecycleConfig,
  startClientAgent,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { clusterPath } from './support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const consul = stack.tools.consul[version]!;
const work = useScratchFolder('hcs-trust-');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }), {
  requirePostgres: 'the trust-scope test needs the PostgreSQL store (terraform pg backend)',
});
const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });
const [subA, subB] = [randomUUID(), randomUUID()];
const idA = clusterPath(subA, 'rg-trust', `trust-a-${randomUUID().slice(0, 6)}`);
const idB = clusterPath(subB, 'rg-trust', `trust-b-${randomUUID().slice(0, 6)}`);
const SERVER_NAME = 'server.dc1.consul';

let a: ClusterAccess;
let b: ClusterAccess;
let rootA = '';
let rootB = '';

const pems = (bundle: string) => bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const fingerprints = (bundle: string) => pems(bundle).map((p) => new X509Certificate(p).fingerprint256);

async function create(id: string, cidr: string): Promise<void> {
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: version, serverCount: 1, datacenter: 'dc1', network: { cidr } },
  });
}

/** The intermediate CA of a cluster as Vault holds it (its own PKI mount). */
async function intermediateOf(id: string): Promise<X509Certificate> {
  const { pkiMount } = await clusterNames(cp.db, id.toLowerCase());
  const res = (await vault.read(`${pkiMount}/issuer/cluster-ca`)) as { data: { certificate: string } };
  return new X509Certificate(res.data.certificate);
}

/** The certificate chain a server presents on its HTTPS port, checked against `ca` by Node's TLS. */
function handshake(address: string, ca: string): Promise<{ ok: true; leaf: X509Certificate } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: address, port: 8501, ca, servername: SERVER_NAME, allowPartialTrustChain: true }, () => {
      const leaf = socket.getPeerX509Certificate()!;
      socket.end();
      resolve({ ok: true, leaf });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: `${err.code ?? ''} ${err.message}` }));
  });
}

/** `consul members` over HTTPS with a CA file and a token: Go's TLS decides whom to trust. */
function consulMembers(address: string, caPem: string, token: string): { status: number | null; out: string } {
  const caFile = join(work, `ca-${randomUUID()}.pem`);
  writeFileSync(caFile, caPem);
  const r = spawnSync(consul, ['members', `-http-addr=https://${address}:8501`, `-ca-file=${caFile}`, `-tls-server-name=${SERVER_NAME}`], {
    env: { ...process.env, CONSUL_HTTP_TOKEN: token },
    timeout: 30_000,
  });
  return { status: r.status, out: `${r.stdout.toString()}${r.stderr.toString()}` };
}

async function memberAddresses(access: ClusterAccess, token: string): Promise<string[]> {
  const res = await consulCall(access, access.addresses[0]!, '/v1/agent/members', token);
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as Array<{ Addr: string }>).map((m) => m.Addr).sort();
}

/**
 * Runs a real client agent with `config` until its output matches `until` (or `timeoutMs`
 * passes), lets it go on for `graceMs` more, then stops it; returns everything it printed.
 */
async function runAgent(config: Record<string, unknown>, until: RegExp, timeoutMs: number, graceMs: number): Promise<string> {
  const dir = join(work, `agent-${randomUUID().slice(0, 8)}`);
  mkdirSync(join(dir, 'config'), { recursive: true });
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'config', '10-hcs.json'), JSON.stringify(config));
  const child = spawn(consul, ['agent', '-config-dir', join(dir, 'config')], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let matched = false;
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      const onData = (d: Buffer) => {
        out += d.toString();
        if (until.test(out) && !matched) {
          matched = true;
          clearTimeout(timer);
          setTimeout(resolve, graceMs);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    }
  }
  return out;
}

beforeAll(async () => {
  await cp.registerSubscription(subA);
  await cp.registerSubscription(subB);
  await Promise.all([create(idA, '10.180.0.0/16'), create(idB, '10.181.0.0/16')]);
  [a, b] = [await clientAccess(cp, idA), await clientAccess(cp, idB)];
  rootA = (await createRootToken(cp, idA)).secretId;
  rootB = (await createRootToken(cp, idB)).secretId;
}, 600_000);

afterAll(async () => {
  await Promise.all(
    [idA, idB].map(async (id) => {
      const del = await arm(cp, 'DELETE', id).catch(() => undefined);
      if (del?.status === 202) await followLocation(cp, String(del.headers.location)).catch(() => undefined);
    }),
  );
}, 600_000);
// Registered after the deletes' afterAll, so the agents stop before the clusters are deleted
// (afterAll hooks run last-registered first).
const agents = useClientAgents(work);

describe.sequential('trust scope: one cluster, one CA', () => {
  it("A's client configuration and its servers' ca.pem hold exactly A's intermediate, never the root or B's CA", async () => {
    const intermediateA = await intermediateOf(idA);
    const intermediateB = await intermediateOf(idB);
    const root = new X509Certificate(
      ((await vault.read(`${stack.vault.pkiMount}/issuer/hcs-root`)) as { data: { certificate: string } }).data.certificate,
    );
    // Both are intermediates of the one control-plane root, for the same datacenter.
    for (const i of [intermediateA, intermediateB]) {
      expect(i.ca).toBe(true);
      expect(i.verify(root.publicKey)).toBe(true);
    }
    expect(fingerprints(a.caPem)).toEqual([intermediateA.fingerprint256]);
    expect(fingerprints(b.caPem)).toEqual([intermediateB.fingerprint256]);
    const servers = new BlobServiceClient(
      stack.blob.url,
      new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey),
    ).getContainerClient((await clusterNames(cp.db, idA.toLowerCase())).container);
    const serverCaPem = (await servers.getBlobClient(`${serverPrefix(0)}tls/ca.pem`).downloadToBuffer()).toString('utf8');
    expect(fingerprints(serverCaPem)).toEqual([intermediateA.fingerprint256]);
    expect(fingerprints(serverCaPem)).not.toContain(root.fingerprint256);
  });

  it("Node's TLS with A's bundle accepts A's server and refuses B's server certificate for the same name", async () => {
    const own = await handshake(a.addresses[0]!, a.caPem);
    expect(own.ok && own.leaf.subjectAltName).toContain(`DNS:${SERVER_NAME}`);
    const foreign = await handshake(b.addresses[0]!, a.caPem);
    expect(foreign).toMatchObject({ ok: false });
    expect(!foreign.ok && foreign.error).toMatch(/UNABLE_TO_GET_ISSUER_CERT_LOCALLY|unable to get local issuer certificate/);
    // B's server does hold a certificate for that very name, valid under B's own bundle.
    const underB = await handshake(b.addresses[0]!, b.caPem);
    expect(underB.ok && underB.leaf.subjectAltName).toContain(`DNS:${SERVER_NAME}`);
  });

  it("the consul CLI with A's bundle refuses B's server even with B's valid root token, and works against A", () => {
    const foreign = consulMembers(b.addresses[0]!, a.caPem, rootB);
    expect(foreign.status).not.toBe(0);
    expect(foreign.out).toMatch(/x509: certificate signed by unknown authority/);
    const own = consulMembers(a.addresses[0]!, a.caPem, rootA);
    expect(own.status, own.out).toBe(0);
    expect(own.out).toContain(a.addresses[0]!);
    expect(consulMembers(b.addresses[0]!, b.caPem, rootB).status).toBe(0);
  });

  it("a real client agent with A's client configuration pointed at B's server is refused at the TLS handshake; B is unchanged", async () => {
    const before = await memberAddresses(b, rootB);
    const address = `127.${randomInt(200, 250)}.${randomInt(1, 250)}.${randomInt(2, 250)}`;
    const dir = join(work, 'foreign-agent');
    writeFileSync(join(work, 'a-ca.pem'), a.caPem);
    // A's client configuration as listClientConfig gave it; only where it joins is B's server.
    const config = structuredClone(a.clientConfig) as Record<string, any>;
    expect(config.tls).toEqual({ defaults: { ca_file: 'ca.pem', verify_outgoing: true }, internal_rpc: { verify_server_hostname: true } });
    config.tls.defaults.ca_file = join(work, 'a-ca.pem');
    config.retry_join = [b.addresses[0]!];
    Object.assign(config, {
      node_name: `intruder-${address.replace(/\./g, '-')}`,
      data_dir: join(dir, 'data'),
      bind_addr: address,
      client_addr: address,
      ports: { http: -1, https: -1, dns: -1, grpc: -1, grpc_tls: -1 },
    });
    // B's own management token: B would let the agent in if it trusted B's certificate.
    config.acl.tokens = { agent: rootB };
    const out = await runAgent(config, /x509: certificate signed by unknown authority/, 60_000, 10_000);
    const refusal = out.split('\n').find((l) => /x509: certificate signed by unknown authority/.test(l));
    console.log(`[trust-scope] the client agent pointed at B: ${refusal?.trim()}`);
    // Its first RPC (auto-encrypt's certificate request) fails at the handshake, again and again;
    // the agent never gets going.
    expect(refusal).toMatch(/AutoEncrypt/i);
    expect(out).not.toMatch(/Consul agent running!/);
    expect(await memberAddresses(b, rootB)).toEqual(before);
    expect((await consulCall(b, b.addresses[0]!, '/v1/status/leader', rootB)).status).toBe(200);
  }, 120_000);

  it('the same client configuration joins a real client agent to A', async () => {
    const { address } = await startClientAgent(agents, {
      access: a,
      rootToken: rootA,
      consul,
      dir: join(work, 'own-agent'),
      http: false,
      dnsServer: stack.acme.dnsAddress,
    });
    expect(await memberAddresses(a, rootA)).toContain(address);
    await agents.stop();
  }, 180_000);
});
