// host-manager against real Azurite and real Consul binaries: files from Blob written
// owner-only, Consul started with TLS, gossip encryption and ACLs on its own loopback address,
// reloaded (same process) when a file changes, replaced when the version changes, restarted when
// it dies. TLS, gossip and ACL material are test fixtures until the lifecycle workflows make them.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { freePort } from '../../../devstack/supervisor.js';
import { ensureDevCertificate } from '../../../devstack/tls.js';
import { startHostManager, type HostManager } from './agent.js';
import { containerBlobSource } from './blob-source.js';
import type { HostConfig } from './config.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const work = mkdtempSync(join(tmpdir(), 'hcs-host-'));
const dataDir = join(work, 'vm');
const ip = `127.0.${100 + Math.floor(Math.random() * 100)}.${2 + Math.floor(Math.random() * 200)}`;
const managementToken = randomUUID();
const credential = new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey);
const container = new BlobServiceClient(stack.blob.url, credential).getContainerClient(`cluster-${randomUUID()}`);
let manager: HostManager;
let https: number;
let ca: string;

async function put(name: string, content: string | Buffer) {
  await container.getBlockBlobClient(name).upload(content, Buffer.byteLength(content));
}

function consulConfig(logLevel: string) {
  return JSON.stringify({
    datacenter: 'dc1',
    server: true,
    bootstrap_expect: 1,
    log_level: logLevel,
    encrypt: randomBytesKey,
    ports: { http: -1, https, grpc: -1, grpc_tls: -1, dns: -1, serf_lan: serfLan, serf_wan: -1, server: serverPort },
    tls: {
      defaults: {
        ca_file: join(dataDir, 'tls', 'ca.pem'),
        cert_file: join(dataDir, 'tls', 'server.pem'),
        key_file: join(dataDir, 'tls', 'server.key'),
        verify_incoming: false,
        verify_outgoing: true,
      },
      internal_rpc: { verify_incoming: true, verify_server_hostname: true },
    },
    acl: { enabled: true, default_policy: 'deny', tokens: { initial_management: managementToken } },
  });
}
const randomBytesKey = randomBytes(32).toString('base64');
let serfLan = 0;
let serverPort = 0;

async function manifest(consulVersion: string, generation: number) {
  await put(
    'servers/0/manifest.json',
    JSON.stringify({
      consulVersion,
      generation,
      files: [
        { blob: 'shared/tls/ca.pem', path: 'tls/ca.pem' },
        { blob: 'servers/0/tls/server.pem', path: 'tls/server.pem' },
        { blob: 'servers/0/tls/server.key', path: 'tls/server.key' },
        { blob: 'servers/0/consul.json', path: 'config/10-server.json' },
      ],
    }),
  );
}

const api = (path: string, token: string | null = managementToken) =>
  httpCall(`https://${ip}:${https}${path}`, { ca, headers: token ? { 'x-consul-token': token } : {} });

async function until<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
const leader = () =>
  until(async () => {
    const r = await api('/v1/status/leader');
    return r.status === 200 && JSON.parse(r.body) !== '' ? (JSON.parse(r.body) as string) : undefined;
  }, 'a raft leader');
// Right after the first leader election the ACL system is still being set up from the
// initial management token (Consul answers 403 "ACL system must be bootstrapped"); wait for it.
const agentSelf = () =>
  until(async () => {
    const r = await api('/v1/agent/self');
    return r.status === 200
      ? (JSON.parse(r.body) as {
          Config: { Version: string; NodeName: string };
          Meta: Record<string, string>;
          DebugConfig: { Logging: { LogLevel: string } };
        })
      : undefined;
  }, 'the agent to answer with the management token');

beforeAll(async () => {
  [https, serfLan, serverPort] = [await freePort(), await freePort(), await freePort()];
  const tls = ensureDevCertificate(join(work, 'pki'), ['server.dc1.consul', ip, 'localhost']);
  ca = tls.caCertPem;
  await container.create();
  await put('shared/tls/ca.pem', tls.caCertPem);
  await put('servers/0/tls/server.pem', readFileSync(tls.certFile));
  await put('servers/0/tls/server.key', readFileSync(tls.keyFile));
  await put('servers/0/consul.json', consulConfig('INFO'));
  await manifest(newer, 1);
  const config: HostConfig = {
    customData: {
      blob: { accountUrl: stack.blob.url, container: container.containerName, serverPrefix: 'servers/0/' },
      identity: { clientId: 'test-identity' },
      cluster: { name: 'hm-test', datacenter: 'dc1', serverIndex: 0, zone: '2' },
    },
    instanceIp: ip,
    instanceName: 'hm-test-server-0',
    dataDir,
    consulBinaries: stack.tools.consul,
    syncIntervalSeconds: 3600, // the test drives sync() itself
    statusPort: 0,
  };
  manager = await startHostManager(
    config,
    containerBlobSource({ accountUrl: stack.blob.url, container: container.containerName, credential }),
  );
});
afterAll(async () => {
  await manager?.stop();
  await container.deleteIfExists();
  rmSync(work, { recursive: true, force: true });
});

it('writes its files owner-only and starts Consul with TLS, gossip encryption and ACLs on its own address', async () => {
  expect(await leader()).toBe(`${ip}:${serverPort}`);
  expect(statSync(join(dataDir, 'tls', 'server.key')).mode & 0o777).toBe(0o600);
  expect(statSync(join(dataDir, 'config', '10-server.json')).mode & 0o777).toBe(0o600);
  expect(statSync(join(dataDir, 'tls')).mode & 0o777).toBe(0o700);
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
  const self = await agentSelf();
  expect(self.Config).toMatchObject({ Version: newer, NodeName: 'hm-test-server-0' });
  expect(self.Meta.zone).toBe('2');
  // ACLs enforced with default deny: an anonymous caller may not read the agent.
  const anonymous = await api('/v1/agent/self', null);
  expect(anonymous.status).toBe(403);
  const status = JSON.parse((await httpCall(manager.statusUrl)).body);
  expect(status).toMatchObject({
    instance: 'hm-test-server-0',
    state: 'running',
    consulVersion: newer,
    generation: 1,
    consulRunning: true,
  });
});

it('reloads Consul in place when a file changes and does nothing when nothing changed', async () => {
  expect(await manager.sync()).toBe('unchanged');
  const pid = manager.status().consulPid;
  await put('servers/0/consul.json', consulConfig('DEBUG'));
  await manifest(newer, 2);
  expect(await manager.sync()).toBe('reloaded');
  expect(manager.status().consulPid).toBe(pid);
  await until(async () => ((await agentSelf()).DebugConfig.Logging.LogLevel === 'DEBUG' ? true : undefined), 'the new log level');
});

it('replaces Consul when the version changes, and restarts it when it dies', async () => {
  await manifest(older, 3);
  expect(await manager.sync()).toBe('replaced');
  await leader();
  expect((await agentSelf()).Config.Version).toBe(older);
  const pid = manager.status().consulPid!;
  process.kill(pid, 'SIGKILL');
  await until(async () => (manager.status().consulPid !== pid ? true : undefined), 'a restarted Consul');
  expect(await leader()).toBe(`${ip}:${serverPort}`);
});

it('refuses a manifest path that leaves its folder and keeps Consul running', async () => {
  await put(
    'servers/0/manifest.json',
    JSON.stringify({ consulVersion: older, generation: 4, files: [{ blob: 'shared/tls/ca.pem', path: '../../etc/evil' }] }),
  );
  await expect(manager.sync()).rejects.toThrow(/leaves the agent's folder/);
  expect(manager.status()).toMatchObject({ state: 'running', lastError: expect.stringContaining('leaves') });
  await leader();
});
