// host-manager against real Azurite and real Consul binaries: files from Blob written
// owner-only, Consul started with TLS, gossip encryption and ACLs on its own loopback address,
// reloaded (same process) when a file changes, replaced when the version changes, restarted when
// it dies; and, with Blob made unreachable (a TCP relay in front of Azurite is closed), Consul
// kept running and started again from the last-good copy on the VM's disk. TLS, gossip and ACL
// material are test fixtures until the lifecycle workflows make them.
//
// Like a VM, the agent has an address of its own and Consul listens on its standard ports there:
// 127.251-254.x.y, above every address the twins and the other tests hand out (the highest:
// test agents in 127.200-249), so no port is picked, released and raced for. A wait that times out says what the agent did and what Consul logged.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { ensureDevCertificate } from '../../../lib/dev-tls.js';
import { startHostManager, type HostManager } from './agent.js';
import { containerBlobSource } from './blob-source.js';
import type { HostConfig } from './config.js';
import { lastGoodPath } from './last-good.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const work = mkdtempSync(join(tmpdir(), 'hcs-host-'));
const dataDir = join(work, 'vm');
const ip = `127.${randomInt(251, 255)}.${randomInt(1, 255)}.${randomInt(2, 255)}`;
const managementToken = randomUUID();
const credential = new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey);
const container = new BlobServiceClient(stack.blob.url, credential).getContainerClient(`cluster-${randomUUID()}`);
let manager: HostManager;
/** What the agents of this file did (their event log), for a failure's message. */
const events: string[] = [];
const recordEvent = (m: string) => events.push(`${new Date().toISOString()} ${m}`);
const [https, serfLan, serverPort] = [8501, 8301, 8300];
let ca: string;
let config: HostConfig;

/**
 * A TCP relay on its own port in front of Azurite: the agent reads Blob through it, and closing
 * it (every open connection too) makes Blob unreachable for this agent alone.
 */
class Relay {
  #server: Server | undefined;
  readonly #sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async open(): Promise<void> {
    const server = createServer((inbound) => {
      const outbound = connect(this.target.port, this.target.host);
      for (const s of [inbound, outbound]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound).pipe(inbound);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: this.port }, () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }
  async close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    // Stop accepting first, then cut what is open; close() completes once every connection is gone.
    const closed = new Promise<void>((r) => server.close(() => r()));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }
}
const azurite = new URL(stack.blob.url);
const relay = new Relay({ host: azurite.hostname, port: Number(azurite.port) });
const relayedSource = () =>
  containerBlobSource({
    accountUrl: `https://127.0.0.1:${relay.port}${azurite.pathname}`,
    container: container.containerName,
    credential,
  });

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
  let last = '';
  for (;;) {
    const v = await fn().catch((err: unknown) => void (last = err instanceof Error ? err.message : String(err)));
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last})` : ''}\n${diagnosis()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
function diagnosis(): string {
  let consulLog = '(none)';
  try {
    consulLog = readFileSync(join(dataDir, 'consul.log'), 'utf8').split('\n').slice(-30).join('\n');
  } catch {
    // no agent has started Consul yet
  }
  return `agent events:\n${events.slice(-20).join('\n')}\nlast lines of consul.log:\n${consulLog}`;
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
  const tls = ensureDevCertificate(join(work, 'pki'), ['server.dc1.consul', ip, 'localhost']);
  ca = tls.caCertPem;
  await container.create();
  await put('shared/tls/ca.pem', tls.caCertPem);
  await put('servers/0/tls/server.pem', readFileSync(tls.certFile));
  await put('servers/0/tls/server.key', readFileSync(tls.keyFile));
  await put('servers/0/consul.json', consulConfig('INFO'));
  await manifest(newer, 1);
  await relay.open();
  config = {
    customData: {
      blob: { accountUrl: stack.blob.url, container: container.containerName, serverPrefix: 'servers/0/' },
      identity: { clientId: 'test-identity' },
      cluster: { name: 'hm-test', datacenter: 'dc1', serverIndex: 0, zone: '2' },
    },
    instanceIp: ip,
    instanceName: 'hm-test-server-0',
    dataDir,
    consulBinaries: stack.tools.consul,
    // The tests drive sync() themselves (the last one the quick first checks).
    syncIntervalSeconds: 3600,
    bootstrapSyncMs: 100,
    bootstrapWindowSeconds: 0,
    statusPort: 0,
  };
  manager = await startHostManager(config, relayedSource(), recordEvent);
});
afterAll(async () => {
  await manager?.stop();
  await relay.close();
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
  const answer = await httpCall(manager.statusUrl);
  expect(answer.status).toBe(200);
  const status = JSON.parse(answer.body);
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

const hostStatus = async () =>
  JSON.parse((await httpCall(manager.statusUrl)).body) as {
    state: string;
    source?: string;
    generation?: number;
    lastError?: string;
    consulRunning: boolean;
    consulPid?: number;
  };
const lastGoodRecord = () =>
  JSON.parse(readFileSync(lastGoodPath(dataDir), 'utf8')) as { manifest: { generation: number }; files: Array<{ base64: string }> };

it('keeps Consul running from its last-good copy while Blob is unreachable, and says so', async () => {
  await manifest(older, 5);
  await manager.sync();
  expect(await hostStatus()).toMatchObject({ state: 'running', source: 'blob', generation: 5 });
  // The complete set is on the VM's disk, owner-only.
  expect(lastGoodRecord().manifest.generation).toBe(5);
  expect(statSync(lastGoodPath(dataDir)).mode & 0o777).toBe(0o600);
  expect(statSync(join(dataDir, 'state')).mode & 0o777).toBe(0o700);
  const pid = manager.status().consulPid;

  await relay.close();
  await expect(manager.sync()).rejects.toThrow(/^Blob unreachable: /);
  expect(await hostStatus()).toMatchObject({
    state: 'running',
    source: 'local',
    generation: 5,
    consulRunning: true,
    consulPid: pid,
    lastError: expect.stringMatching(/^Blob unreachable: /),
  });
  expect(await leader()).toBe(`${ip}:${serverPort}`);
  // Consul dying while Blob is down is restarted on the same files.
  process.kill(pid!, 'SIGKILL');
  await until(async () => (manager.status().consulPid !== pid ? true : undefined), 'a restarted Consul');
  expect(await leader()).toBe(`${ip}:${serverPort}`);
});

it('starts Consul from its last-good copy when Blob is down at start, and follows Blob again once it answers', async () => {
  await manager.stop();
  const started = Date.now();
  manager = await startHostManager(config, relayedSource(), recordEvent);
  const fellBackMs = Date.now() - started;
  expect(await hostStatus()).toMatchObject({
    state: 'running',
    source: 'local',
    generation: 5,
    consulRunning: true,
    lastError: expect.stringMatching(/^Blob unreachable: /),
  });
  expect(await leader()).toBe(`${ip}:${serverPort}`);
  expect((await agentSelf()).Config.Version).toBe(older);
  console.log(`host-manager with Blob down: Consul started from the last-good copy ${fellBackMs} ms after the agent started`);

  await relay.open();
  await put('servers/0/consul.json', consulConfig('WARN'));
  await manifest(older, 6);
  expect(await manager.sync()).toBe('reloaded');
  expect(await hostStatus()).toMatchObject({ state: 'running', source: 'blob', generation: 6 });
  expect((await hostStatus()).lastError).toBeUndefined();
  expect(lastGoodRecord().manifest.generation).toBe(6);
  await until(async () => ((await agentSelf()).DebugConfig.Logging.LogLevel === 'WARN' ? true : undefined), 'the new log level');

  // A set Blob holds only in part changes nothing: no live file, not the last-good copy.
  const live = readFileSync(join(dataDir, 'config', '10-server.json'), 'utf8');
  await put('servers/0/consul-next.json', consulConfig('TRACE'));
  await put(
    'servers/0/manifest.json',
    JSON.stringify({
      consulVersion: older,
      generation: 7,
      files: [
        { blob: 'servers/0/consul-next.json', path: 'config/10-server.json' },
        { blob: 'servers/0/tls/missing.pem', path: 'tls/server.pem' },
      ],
    }),
  );
  await expect(manager.sync()).rejects.toThrow(/servers\/0\/tls\/missing\.pem, which does not exist/);
  expect(readFileSync(join(dataDir, 'config', '10-server.json'), 'utf8')).toBe(live);
  expect(lastGoodRecord().manifest.generation).toBe(6);
  expect(await hostStatus()).toMatchObject({ state: 'running', source: 'local', generation: 6 });
});

it('never starts Consul from a missing, damaged or half-written copy', async () => {
  await manager.stop();
  await relay.close();
  const record = readFileSync(lastGoodPath(dataDir), 'utf8');

  // No copy at all (a VM that never reached Blob).
  rmSync(lastGoodPath(dataDir));
  manager = await startHostManager(config, relayedSource(), recordEvent);
  expect(await hostStatus()).toMatchObject({
    state: 'error',
    consulRunning: false,
    lastError: expect.stringMatching(/^Blob unreachable: .*; no last-good copy on this VM yet, so Consul was not started$/),
  });
  // No agent runs: /status says so with its status code too (a health check needs no body).
  expect((await httpCall(manager.statusUrl)).status).toBe(503);
  await manager.stop();

  // A damaged copy (one file's bytes changed), beside the temporary of a save that never finished.
  const damaged = JSON.parse(record) as { files: Array<{ base64: string }> };
  damaged.files[1]!.base64 = Buffer.from('not the certificate').toString('base64');
  writeFileSync(lastGoodPath(dataDir), JSON.stringify(damaged), { mode: 0o600 });
  const stale = `${lastGoodPath(dataDir)}.0badc0de.tmp`;
  writeFileSync(stale, record.slice(0, record.length / 2), { mode: 0o600 });
  manager = await startHostManager(config, relayedSource(), recordEvent);
  expect(await hostStatus()).toMatchObject({
    state: 'error',
    consulRunning: false,
    lastError: expect.stringMatching(/does not match its recorded digest, so Consul was not started$/),
  });
  expect(existsSync(stale)).toBe(false);

  // Blob back with a complete set: the agent starts Consul and records a good copy again.
  await relay.open();
  await manifest(older, 8);
  expect(await manager.sync()).toBe('started');
  expect(await hostStatus()).toMatchObject({ state: 'running', source: 'blob', generation: 8 });
  expect((await httpCall(manager.statusUrl)).status).toBe(200);
  expect(lastGoodRecord().manifest.generation).toBe(8);
  expect(await leader()).toBe(`${ip}:${serverPort}`);
});

it('checks Blob every few hundred ms while it waits for its first files, so a new server starts as soon as they are published', async () => {
  await manager.stop();
  await container.getBlobClient('servers/0/manifest.json').delete();
  rmSync(dataDir, { recursive: true, force: true });
  const lines: string[] = [];
  // The regular interval is an hour: only the quick first checks can find the files.
  manager = await startHostManager({ ...config, bootstrapWindowSeconds: 60 }, relayedSource(), (m) => {
    recordEvent(m);
    lines.push(m);
  });
  expect(await hostStatus()).toMatchObject({
    state: 'error',
    consulRunning: false,
    lastError: expect.stringMatching(/^no manifest at servers\/0\/manifest\.json yet; /),
  });
  await new Promise((r) => setTimeout(r, 1_000));
  const published = Date.now();
  await manifest(older, 9);
  await until(async () => (manager.status().consulPid ? true : undefined), 'Consul started by a quick check', 20_000);
  console.log(`host-manager waiting for its first files: Consul started ${Date.now() - published} ms after the manifest was published`);
  expect(await hostStatus()).toMatchObject({ state: 'running', source: 'blob', generation: 9 });
  expect(await leader()).toBe(`${ip}:${serverPort}`);
  // The failures before the files came are logged once, not once per check.
  expect(lines.filter((l) => l.startsWith('sync failed: no manifest'))).toHaveLength(1);
});
