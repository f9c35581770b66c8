// ACL bootstrap, the health gate and the snapshot endpoint against a real Consul server with TLS
// and ACLs on.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { freePort, Supervisor } from '../devstack/supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { ConsulAdmin, ConsulSnapshotError } from './consul-admin.js';

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
  expect(wrong.problems).toContain('1 live voters in raft, expected 3');
});

it('does not count a voter whose node id no live server has (a reimaged server before raft replaced it)', async () => {
  // Consul's own answers at the moment after a reimage: the raft configuration still lists the
  // old node id at 10.0.0.1 as a voter, gossip knows the new node there, not a voter yet.
  const answers: Record<string, unknown> = {
    '/v1/status/leader': '10.0.0.2:8300',
    '/v1/operator/raft/configuration': {
      Servers: [
        { ID: 'old-1', Address: '10.0.0.1:8300', Voter: true },
        { ID: 'id-2', Address: '10.0.0.2:8300', Voter: true },
        { ID: 'id-3', Address: '10.0.0.3:8300', Voter: true },
      ],
    },
    '/v1/agent/members': ['new-1', 'id-2', 'id-3'].map((id, i) => ({ Status: 1, Tags: { role: 'consul', id }, Addr: `10.0.0.${i + 1}` })),
    '/v1/operator/autopilot/health': { Healthy: true, Servers: [] },
  };
  const standIn = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (!(path in answers)) return void res.writeHead(403).end('Permission denied');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answers[path]));
  });
  await new Promise<void>((r) => standIn.listen(0, '127.0.0.1', r));
  try {
    const report = await new ConsulAdmin({ url: `http://127.0.0.1:${(standIn.address() as AddressInfo).port}` }).health('t', 3);
    expect(report).toMatchObject({
      healthy: false,
      voters: 2,
      problems: ['2 live voters in raft, expected 3 (voters no live server answers for: 10.0.0.1:8300)'],
    });
  } finally {
    await new Promise((r) => standIn.close(r));
  }
});

it('streams a snapshot out and back in, refuses a foreign token without echoing it, and aborts a restore whose body fails', async () => {
  const { archive, consulIndex } = await admin.snapshot(management);
  expect(consulIndex).toMatch(/^\d+$/);
  const chunks: Buffer[] = [];
  for await (const chunk of archive) chunks.push(chunk as Buffer);
  const snapshot = Buffer.concat(chunks);
  expect(snapshot.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true); // Consul's gzip archive

  await admin.restoreSnapshot(management, {
    what: 'restore of the test snapshot',
    sizeBytes: snapshot.length,
    body: [Readable.from([snapshot])],
  });

  const foreign = randomUUID();
  const refused: unknown = await admin.snapshot(foreign).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(ConsulSnapshotError);
  expect((refused as ConsulSnapshotError).status).toBe(403);
  expect((refused as Error).message).toMatch(/^snapshot save refused: Consul at https:\/\/127\.0\.0\.1:\d+ answered 403 Forbidden: /);
  expect((refused as Error).message).not.toContain(foreign);

  // Half the archive, then the body fails: Consul never gets the whole snapshot.
  const failing = new PassThrough();
  failing.write(snapshot.subarray(0, snapshot.length >> 1));
  setTimeout(() => failing.destroy(new Error('the blob download broke')), 50);
  await expect(
    admin.restoreSnapshot(management, { what: 'restore of the broken snapshot', sizeBytes: snapshot.length, body: [failing] }),
  ).rejects.toThrow(/^restore of the broken snapshot aborted before Consul received the whole snapshot: the blob download broke$/);
});
