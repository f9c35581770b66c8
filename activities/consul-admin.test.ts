// ACL bootstrap and the health gate against a real Consul server with TLS and ACLs on.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freePort, Supervisor } from '../devstack/supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { ConsulAdmin } from './consul-admin.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'hcs-consul-admin-'));
const supervisor = new Supervisor({ stateDir: join(dir, 'sup') });
const management = randomUUID();
let admin: ConsulAdmin;

beforeAll(async () => {
  const [https, serfLan, server] = [await freePort(), await freePort(), await freePort()];
  const tls = ensureDevCertificate(join(dir, 'tls'), ['server.dc1.consul', '127.0.0.1', 'localhost']);
  writeFileSync(
    join(dir, 'consul.json'),
    JSON.stringify({
      datacenter: 'dc1',
      server: true,
      bootstrap_expect: 1,
      bind_addr: '127.0.0.1',
      client_addr: '127.0.0.1',
      data_dir: join(dir, 'data'),
      ports: { http: -1, https, grpc: -1, grpc_tls: -1, dns: -1, serf_lan: serfLan, serf_wan: -1, server },
      tls: {
        defaults: {
          ca_file: tls.caCertFile,
          cert_file: tls.certFile,
          key_file: tls.keyFile,
          verify_incoming: false,
          verify_outgoing: true,
        },
      },
      acl: { enabled: true, default_policy: 'deny' },
    }),
  );
  admin = new ConsulAdmin({ url: `https://127.0.0.1:${https}`, caPem: tls.caCertPem });
  await supervisor.start({
    name: 'consul-admin-test',
    command: stack.tools.consul[stack.tools.consulVersions.at(-1)!]!,
    args: ['agent', `-config-file=${join(dir, 'consul.json')}`],
    probe: async () => {
      if (!(await admin.health(management, 1)).leader) throw new Error('no leader yet');
    },
  });
});
afterAll(async () => {
  await supervisor.stop();
  rmSync(dir, { recursive: true, force: true });
});

it('bootstraps ACLs once with our token, accepts a repeat, and refuses a foreign token', async () => {
  expect(await admin.bootstrapAcl(management)).toBe('bootstrapped');
  expect(await admin.bootstrapAcl(management)).toBe('already-bootstrapped');
  await expect(admin.bootstrapAcl(randomUUID())).rejects.toThrow(/our management token does not work \(403\)/);
});

it('creates the agent token idempotently', async () => {
  const token = {
    name: 'hcs-agent',
    rules: 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }',
    accessorId: randomUUID(),
    secretId: randomUUID(),
  };
  await admin.ensureToken(management, token);
  await admin.ensureToken(management, token);
});

it('passes the health gate only with the expected voters, a leader, autopilot healthy and ACLs enforced', async () => {
  let report = await admin.health(management, 1);
  for (let i = 0; i < 40 && !report.healthy; i++) {
    await new Promise((r) => setTimeout(r, 500)); // autopilot needs its stabilisation time
    report = await admin.health(management, 1);
  }
  expect(report).toMatchObject({ healthy: true, voters: 1, problems: [] });
  const wrong = await admin.health(management, 3);
  expect(wrong.healthy).toBe(false);
  expect(wrong.problems).toContain('1 voters in raft, expected 3');
});
