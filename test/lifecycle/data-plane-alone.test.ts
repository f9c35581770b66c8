// The data plane alone (DESIGN.md invariant 4): a 3-server cluster created through the API keeps
// serving a real client agent's KV writes and reads with the whole control plane stopped (API,
// worker, Temporal, OpenBao) and Blob stopped too; a server VM killed meanwhile is restarted by
// the ARM twin, starts Consul from its host-manager's last-good copy and rejoins raft as a voter.
// Then everything comes back and the cluster is managed again.
//
// This file runs on a stack of its own (test/support/private-stack.ts, OpenBao on file storage so
// it can be restarted): stopping the shared stack's services would break the other test files.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { HOST_MANAGER_IMAGE } from '../../devstack/host-manager-image.js';
import { startOpenBao } from '../../devstack/services/openbao.js';
import type { Stack, StackEndpoints } from '../../devstack/stack.js';
import { Supervisor, type ProcessSpec } from '../../devstack/supervisor.js';
import { httpCall } from '../../lib/http.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { useScratchFolder } from '../support/control-plane-fixture.js';
import { startPrivateStack } from '../support/private-stack.js';
import {
  arm,
  clientAccess,
  consulCall,
  createRootToken,
  followLocation,
  lifecycleConfig,
  startClientAgent,
  type ClusterAccess,
} from '../support/lifecycle.js';

const shared = inject('stack');
const work = useScratchFolder('hcs-data-plane-');
// Inside the run's folder, so the private stack's service logs stay beside the shared ones.
const stackDir = join(shared.dataDir, `data-plane-alone-${randomUUID().slice(0, 8)}`);
const agents = new Supervisor({ stateDir: join(work, 'supervisor') });
let priv: Stack;
let endpoints: StackEndpoints;
let cp: ControlPlane;
let cpRunning = false;
let id = '';
let access: ClusterAccess;
let root = '';
let clientUrl = '';
const stopped: Record<string, ProcessSpec> = {};

interface HostStatus {
  state?: string;
  source?: string;
  generation?: number;
  lastError?: string;
  consulPid?: number;
  consulRunning?: boolean;
}

beforeAll(async () => {
  priv = await startPrivateStack(shared, stackDir, `hcs_test_dpa_${randomUUID().slice(0, 8)}`);
  endpoints = priv.endpoints;
  cp = await startControlPlane(endpoints, { lifecycle: lifecycleConfig(endpoints) });
  cpRunning = true;
}, 300_000);

afterAll(async () => {
  stopTraffic = true;
  await traffic;
  await agents.stop();
  if (cpRunning) await cp.close();
  await priv?.stop();
}, 180_000);

// KV traffic through the client agent: a write then a read of the same key, every 200 ms.
const rounds: Array<{ at: number; ok: boolean; why?: string }> = [];
let stopTraffic = false;
let traffic: Promise<void> = Promise.resolve();
function startTraffic(): void {
  traffic = (async () => {
    for (let i = 0; !stopTraffic; i++) {
      const at = Date.now();
      try {
        const w = await httpCall(`${clientUrl}/v1/kv/dpa/traffic`, {
          method: 'PUT',
          headers: { 'x-consul-token': root },
          body: String(i),
          timeoutInMs: 3_000,
        });
        const r = await httpCall(`${clientUrl}/v1/kv/dpa/traffic?raw`, { headers: { 'x-consul-token': root }, timeoutInMs: 3_000 });
        const ok = w.status === 200 && r.status === 200 && r.body === String(i);
        rounds.push({ at, ok, ...(ok ? {} : { why: `write ${w.status}, read ${r.status} ${r.body.slice(0, 80)}` }) });
      } catch (err) {
        rounds.push({ at, ok: false, why: err instanceof Error ? err.message : String(err) });
      }
      await new Promise((res) => setTimeout(res, 200));
    }
  })();
}
const roundsBetween = (from: number, to = Date.now()) => rounds.filter((r) => r.at >= from && r.at < to);

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? ` (last: ${last})` : ''}`);
    await wait(500);
  }
}

const hostStatus = async (address: string): Promise<HostStatus> =>
  JSON.parse((await httpCall(`http://${address}:9701/status`, { timeoutInMs: 2_000 })).body) as HostStatus;

/** The host-manager of one of this file's instances (the shared twin's instances may share an address). */
function hostManagerPid(address: string): number {
  let pids: string[] = [];
  try {
    pids = execFileSync('pgrep', ['-f', HOST_MANAGER_IMAGE]).toString().trim().split('\n');
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      if (env.includes(`HCS_INSTANCE_IP=${address}`) && env.some((e) => e.startsWith(`HCS_INSTANCE_DISK=${stackDir}/`))) return Number(pid);
    } catch {
      // gone meanwhile
    }
  }
  return 0;
}

/** Resolves true when nothing listens on host:port any more (connection refused). */
function refuses(hostPort: string): Promise<boolean> {
  const url = new URL(hostPort.includes('://') ? hostPort : `tcp://${hostPort}`);
  return new Promise((resolve) => {
    const s = connect(Number(url.port), url.hostname);
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

interface AutopilotHealth {
  Healthy: boolean;
  Servers: Array<{ Address: string; Healthy: boolean; Voter: boolean; SerfStatus: string }>;
}
async function autopilot(via: string): Promise<AutopilotHealth> {
  const res = await consulCall(access, via, '/v1/operator/autopilot/health', root);
  // 429 answers with the same body when unhealthy.
  return JSON.parse(res.body) as AutopilotHealth;
}

it('creates a 3-server cluster through the API; a client agent writes and reads KV', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  id = `/subscriptions/${sub}/resourceGroups/rg-dpa/providers/HCS.Consul/clusters/dpa-${randomUUID().slice(0, 6)}`;
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion: shared.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: '10.64.0.0/16' } },
  });
  expect(put.status, put.body).toBe(201);
  const created = await followLocation(
    cp,
    String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'),
  );
  expect(created.status, created.body).toBe(200);
  access = await clientAccess(cp, id);
  expect(access.addresses).toHaveLength(3);
  root = (await createRootToken(cp, id)).secretId;
  const client = await startClientAgent(agents, {
    access,
    rootToken: root,
    consul: shared.tools.consul[shared.tools.consulVersions.at(-1)!]!,
    dir: join(work, 'client'),
    http: true,
    dnsServer: endpoints.acme.dnsAddress,
  });
  clientUrl = client.httpUrl;
  startTraffic();
  await until('KV traffic through the client', async () => (roundsBetween(0).filter((r) => r.ok).length >= 5 ? true : undefined));
  for (const a of access.addresses) expect(await hostStatus(a)).toMatchObject({ state: 'running', source: 'blob' });
}, 900_000);

let downAt = 0;
it('with the control plane (API, worker, Temporal, OpenBao) and Blob stopped, KV keeps working and every server runs from its last-good copy', async () => {
  expect(clientUrl).not.toBe('');
  downAt = Date.now();
  await cp.close();
  cpRunning = false;
  for (const name of ['temporal', 'openbao', 'azurite']) stopped[name] = await priv.supervisor.stopService(name);
  const stopMs = Date.now() - downAt;
  // Really gone: nothing listens where they were.
  expect(await refuses(endpoints.temporal.address)).toBe(true);
  expect(await refuses(endpoints.vault.address)).toBe(true);
  expect(await refuses(endpoints.blob.url)).toBe(true);
  await expect(httpCall(`${cp.api.restUrl}/openapi.json`, { ca: cp.caCertPem, timeoutInMs: 2_000 })).rejects.toThrow();

  // Every host-manager notices Blob is gone on its next sync and says so; Consul keeps running.
  for (const a of access.addresses)
    await until(`${a} to report Blob unreachable`, async () => {
      const s = await hostStatus(a);
      return s.source === 'local' && /^Blob unreachable: /.test(s.lastError ?? '') ? s : undefined;
    });
  for (const a of access.addresses) expect(await hostStatus(a)).toMatchObject({ state: 'running', consulRunning: true });
  await wait(20_000);
  const during = roundsBetween(downAt);
  console.log(
    `control plane and Blob down (stopping took ${stopMs} ms): ${during.length} KV rounds in ${Date.now() - downAt} ms, ` +
      `${during.filter((r) => !r.ok).length} failed`,
  );
  expect(during.length).toBeGreaterThan(30);
  expect(during.filter((r) => !r.ok)).toEqual([]);
}, 300_000);

it('a killed server VM restarts from its last-good copy and rejoins raft as a voter while the control plane and Blob stay down', async () => {
  expect(downAt).toBeGreaterThan(0);
  const leader = JSON.parse((await consulCall(access, access.addresses[0]!, '/v1/status/leader', root)).body) as string;
  const victim = access.addresses.find((a) => !leader.startsWith(`${a}:`))!;
  const others = access.addresses.filter((a) => a !== victim);
  const before = await hostStatus(victim);
  const pid = hostManagerPid(victim);
  expect(pid).toBeGreaterThan(0);
  // The VM's main process dies: the twin takes its Consul down with it and starts the VM again,
  // as Azure restarts a failed VM.
  const killedAt = Date.now();
  process.kill(pid, 'SIGKILL');
  const after = await until(`${victim} to run Consul again`, async () => {
    const s = await hostStatus(victim);
    return s.state === 'running' && s.consulRunning && s.consulPid !== before.consulPid ? s : undefined;
  });
  const backMs = Date.now() - killedAt;
  const newPid = hostManagerPid(victim);
  expect(newPid).toBeGreaterThan(0);
  expect(newPid).not.toBe(pid);
  // From the local copy, with Blob still refusing connections, and the same generation as before.
  expect(await refuses(endpoints.blob.url)).toBe(true);
  expect(after).toMatchObject({ source: 'local', generation: before.generation, lastError: expect.stringMatching(/^Blob unreachable: /) });

  // It rejoins: asked through itself and through the others, three healthy voters.
  const health = await until('three healthy voters', async () => {
    for (const via of [victim, ...others]) {
      const h = await autopilot(via);
      if (!(h.Healthy && h.Servers.length === 3 && h.Servers.every((s) => s.Healthy && s.Voter && s.SerfStatus === 'alive')))
        return undefined;
    }
    return autopilot(leader.split(':')[0]!);
  });
  const rejoinMs = Date.now() - killedAt;
  expect(health.Servers.map((s) => s.Address.split(':')[0]).sort()).toEqual([...access.addresses].sort());
  // It holds the data written while it was gone (a stale read answers from its own raft log).
  const marker = randomUUID();
  expect(
    (await httpCall(`${clientUrl}/v1/kv/dpa/after-kill`, { method: 'PUT', headers: { 'x-consul-token': root }, body: marker })).status,
  ).toBe(200);
  await until('the write on the restarted server', async () => {
    const r = await consulCall(access, victim, '/v1/kv/dpa/after-kill?stale&raw', root);
    return r.status === 200 && r.body === marker ? true : undefined;
  });

  // The client kept working: failures (if any) only right after the kill, none once it rejoined.
  const settled = Date.now();
  await wait(15_000);
  const afterKill = roundsBetween(killedAt, settled);
  const failed = afterKill.filter((r) => !r.ok);
  console.log(
    `killed VM ${victim} (a follower): Consul running again after ${backMs} ms, three healthy voters after ${rejoinMs} ms; ` +
      `${afterKill.length} KV rounds meanwhile, ${failed.length} failed${failed.length ? ` (${failed.map((f) => `+${f.at - killedAt} ms: ${f.why}`).join('; ')})` : ''}`,
  );
  for (const f of failed) expect(f.at - killedAt).toBeLessThan(10_000);
  expect(roundsBetween(settled).filter((r) => !r.ok)).toEqual([]);
  expect(roundsBetween(settled).length).toBeGreaterThan(20);
}, 300_000);

it('once Blob and the control plane are back, the servers follow Blob again and the cluster is managed: read, client configuration, a snapshot', async () => {
  expect(stopped.azurite).toBeDefined();
  // Azurite and Temporal on their own ports and data, OpenBao from its file storage (unsealed again).
  await priv.supervisor.start(stopped.azurite!);
  await priv.supervisor.start(stopped.temporal!);
  const vault = await startOpenBao(priv.supervisor, { binary: shared.tools.bao, dataDir: join(stackDir, 'openbao'), persistent: true });
  const back: StackEndpoints = { ...endpoints, vault };
  cp = await startControlPlane(back, { lifecycle: lifecycleConfig(back), restartOf: cp });
  cpRunning = true;

  for (const a of access.addresses)
    await until(`${a} to read Blob again`, async () => {
      const s = await hostStatus(a);
      return s.source === 'blob' && s.lastError === undefined && s.state === 'running' ? s : undefined;
    });
  const get = await arm(cp, 'GET', id);
  expect(get.status).toBe(200);
  expect(JSON.parse(get.body)).toMatchObject({ properties: { provisioningState: 'Succeeded', serverCount: 3 } });
  expect((await clientAccess(cp, id)).addresses.sort()).toEqual([...access.addresses].sort());

  let started = await arm(cp, 'POST', `${id}/createSnapshot`, { name: 'after-the-outage' });
  // A scheduled firing that Temporal caught up on may hold the cluster for a moment.
  for (let i = 0; started.status === 409 && i < 120; i++) {
    await wait(1_000);
    started = await arm(cp, 'POST', `${id}/createSnapshot`, { name: 'after-the-outage' });
  }
  expect(started.status, started.body).toBe(202);
  const done = await followLocation(cp, String(started.headers.location), 300_000);
  expect(done.status, done.body).toBe(200);
  const list = await arm(cp, 'POST', `${id}/listSnapshots`);
  const snaps = (JSON.parse(list.body) as { value: Array<{ name: string; state: string }> }).value;
  expect(snaps.find((s) => s.name === 'after-the-outage')).toMatchObject({ state: 'SNAPSHOT_STATE_COMPLETED' });

  // And the client never stopped: no failed round since the VM rejoined.
  const failedSinceDown = roundsBetween(downAt).filter((r) => !r.ok);
  console.log(
    `whole run: ${rounds.length} KV rounds, ${rounds.filter((r) => !r.ok).length} failed (${failedSinceDown.length} since the control plane stopped)`,
  );
}, 600_000);
