// A scale-down's retireServers against three real Consul servers (TLS, ACLs on), each on its own
// loopback address: the retiring servers leave one at a time and the next leaves only once the
// last is out of raft, so the one kept server still leads. A retiring server that crashed and
// never left is removed through the leader before the next leaves; leaving the next while the
// crashed one is still a voter would take quorum with it (no leader is then left).
import { randomInt, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort, Supervisor } from '../devstack/supervisor.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { ConsulAdmin, consulRequest } from './consul-admin.js';
import { createConsulLeadershipActivities } from './consul-leadership.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'hcs-consul-leadership-'));
const management = randomUUID();
const supervisors: Supervisor[] = [];
afterAll(async () => {
  for (const s of supervisors) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface TestCluster {
  servers: ServerInfo[];
  supervisor: Supervisor;
  /** A client for one server, by address, and its HTTPS URL. */
  admin(address: string): ConsulAdmin;
  url(address: string): string;
  caPem: string;
}

/** Three servers on 127.<random>.<random>.1-3, HTTPS on a free port each, autopilot's clean-up off. */
async function threeServers(name: string): Promise<TestCluster> {
  const base = `127.${randomInt(16, 250)}.${randomInt(1, 250)}`;
  const servers = [1, 2, 3].map((n, index) => ({ index, name: `${name}-${n}`, zone: String(n), address: `${base}.${n}` }));
  const tls = ensureDevCertificate(join(dir, name, 'tls'), ['server.dc1.consul', 'localhost', ...servers.map((s) => s.address)]);
  const ports = await Promise.all(
    servers.map(async (s) => ({ https: await freePort(s.address), serfLan: await freePort(s.address), server: await freePort(s.address) })),
  );
  const urls = new Map(servers.map((s, i) => [s.address, `https://${s.address}:${ports[i]!.https}`]));
  const url = (address: string) => urls.get(address)!;
  const admin = (address: string) => new ConsulAdmin({ url: url(address), caPem: tls.caCertPem });
  const supervisor = new Supervisor({ stateDir: join(dir, name, 'sup') });
  supervisors.push(supervisor);
  await Promise.all(
    servers.map(async (s, i) => {
      const config = join(dir, name, `${s.name}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          datacenter: 'dc1',
          node_name: s.name,
          server: true,
          bootstrap_expect: 3,
          bind_addr: s.address,
          client_addr: s.address,
          data_dir: join(dir, name, s.name),
          ports: {
            http: -1,
            https: ports[i]!.https,
            grpc: -1,
            grpc_tls: -1,
            dns: -1,
            serf_lan: ports[i]!.serfLan,
            serf_wan: -1,
            server: ports[i]!.server,
          },
          retry_join: servers.filter((o) => o !== s).map((o) => `${o.address}:${ports[servers.indexOf(o)]!.serfLan}`),
          tls: {
            defaults: {
              ca_file: tls.caCertFile,
              cert_file: tls.certFile,
              key_file: tls.keyFile,
              verify_incoming: false,
              verify_outgoing: true,
            },
          },
          acl: { enabled: true, default_policy: 'deny', tokens: { initial_management: management } },
          // Autopilot would remove a dead server on its own after a while; the test wants the step to do it.
          autopilot: { cleanup_dead_servers: false },
        }),
      );
      await supervisor.start({
        name: s.name,
        command: stack.tools.consul[stack.tools.consulVersions.at(-1)!]!,
        args: ['agent', `-config-file=${config}`],
        probe: async () => {
          const report = await admin(s.address).health(management, 3);
          if (!report.leader || report.voters !== 3) throw new Error(report.problems.join('; '));
        },
        readyTimeoutMs: 90_000,
      });
    }),
  );
  return { servers, supervisor, admin, url, caPem: tls.caCertPem };
}

function leadership(c: TestCluster) {
  return createConsulLeadershipActivities({
    consulAdmin: (endpoint) => c.admin(new URL(endpoint.url).hostname),
    pki: { clusterCaBundle: async () => c.caPem },
    secrets: { tokenSecretId: async () => management },
    retireTiming: { graceMs: 2_000, limitMs: 60_000, pollMs: 250 },
  });
}

const plan = { resourceKey: 'retire-test' } as ClusterPlan;

/** retireServers as a worker runs it (an activity context, for its heartbeats and sleeps). */
function retire(c: TestCluster, a: { plan: ClusterPlan; servers: ServerInfo[]; retiring: ServerInfo[] }) {
  const activities = leadership(c);
  return new MockActivityEnvironment().run<[typeof a], { left: string[]; removed: string[] }, typeof activities.retireServers>(
    (x) => activities.retireServers(x),
    a,
  );
}

/** The raft configuration's addresses as the leader has them, once one answers. */
async function raftAddresses(c: TestCluster, at: ServerInfo): Promise<string[]> {
  for (const end = Date.now() + 30_000; ;) {
    const servers = await c
      .admin(at.address)
      .raftServers(management)
      .catch((err: Error) => err);
    if (!(servers instanceof Error)) return servers.map((s) => s.address);
    if (Date.now() > end) throw servers;
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** The kept server's view once it leads alone: its raft voters and the leader's address. */
async function aloneAndLeading(c: TestCluster, kept: ServerInfo) {
  const admin = c.admin(kept.address);
  let seen = { voters: [] as string[], leader: '' };
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const voters = await admin.raftServers(management).catch(() => []);
    const leader = await admin.leaderAddress(management).catch(() => '');
    seen = { voters: voters.filter((v) => v.voter).map((v) => v.address), leader };
    if (seen.voters.length === 1 && leader) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  return seen;
}

describe('retireServers on three real Consul servers', () => {
  it('retires two of three one at a time: the kept server leads alone and keeps the data', async () => {
    const c = await threeServers('gentle');
    const [kept, ...retiring] = c.servers as [ServerInfo, ServerInfo, ServerInfo];
    const put = await fetchKv(c, kept, 'PUT', 'kept-through-scale-down');
    expect(put).toBe('true');
    const result = await retire(c, { plan, servers: [kept], retiring });
    expect(result.left.sort()).toEqual(retiring.map((s) => s.name).sort());
    expect(await aloneAndLeading(c, kept)).toEqual({ voters: [kept.address], leader: kept.address });
    expect(await fetchKv(c, kept, 'GET')).toBe('kept-through-scale-down');
  }, 180_000);

  it('removes a retiring server that crashed without leaving before the next one leaves', async () => {
    const c = await threeServers('crashed');
    const [kept, crashed, next] = c.servers as [ServerInfo, ServerInfo, ServerInfo];
    // Stopped by SIGTERM: a Consul server does not leave on terminate, so it stays a voter.
    await c.supervisor.stopService(crashed.name);
    // Still a voter (once a leader answers again: the crashed one may have led).
    expect(await raftAddresses(c, kept)).toContain(crashed.address);
    const result = await retire(c, {
      plan,
      servers: [kept],
      retiring: [crashed, next],
    });
    expect(result).toEqual({ left: [next.name], removed: [crashed.name] });
    expect(await aloneAndLeading(c, kept)).toEqual({ voters: [kept.address], leader: kept.address });
    expect(await fetchKv(c, kept, 'PUT', 'written-with-one')).toBe('true');
  }, 180_000);
});

/** A KV write (Consul's answer, 'true') or read (the value) of key `retire` through one server. */
async function fetchKv(c: TestCluster, at: ServerInfo, method: 'GET' | 'PUT', value?: string): Promise<string> {
  const res = await consulRequest({ url: c.url(at.address), caPem: c.caPem }, `/v1/kv/retire${method === 'GET' ? '?raw' : ''}`, {
    method,
    token: management,
    ...(value !== undefined ? { body: value } : {}),
  });
  const body = res.body.trim();
  return method === 'GET' ? (JSON.parse(body) as string) : body;
}
