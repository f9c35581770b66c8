// The load balancer of the HA topology on the real HAProxy: two small HTTPS replicas (the
// API's kind of certificate, a readiness path) behind it. Requests reach both; a replica that is
// killed is marked down within a few seconds and every later request is served by the other; one
// that answers its readiness path with 503 is taken out too. The configuration refuses bad input.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureDevCertificate, type DevCertificate } from '../../lib/dev-tls.js';
import { httpCall } from '../../lib/http.js';
import { toolPaths } from '../../scripts/toolchain.mjs';
import { freePort, Supervisor } from '../supervisor.js';
import { backendStatus, haproxyConfig, parseStatsCsv, startHaproxy, type LoadBalancerEndpoint } from './haproxy.js';

// A replica: HTTPS on two ports (REST-like and gRPC-like), answering with its name; /readyz
// answers 200, or 503 once the file `<dir>/<name>.unready` exists.
const REPLICA = `
const https = require('node:https'), fs = require('node:fs');
const [name, certFile, keyFile, dir, ...ports] = process.argv.slice(1);
const opts = { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) };
for (const port of ports)
  https.createServer(opts, (req, res) => {
    if (req.url === '/readyz') { res.statusCode = fs.existsSync(dir + '/' + name + '.unready') ? 503 : 200; return res.end(); }
    res.end(name + ':' + port);
  }).listen(Number(port), '127.0.0.1');
`;

let dir: string;
let sup: Supervisor;
let tls: DevCertificate;
let lb: LoadBalancerEndpoint;
const replicas: Array<{ name: string; restPort: number; grpcPort: number; child?: ChildProcess }> = [];

async function startReplica(r: (typeof replicas)[number]): Promise<void> {
  r.child = spawn(process.execPath, ['-e', REPLICA, r.name, tls.certFile, tls.keyFile, dir, String(r.restPort), String(r.grpcPort)], {
    stdio: 'ignore',
  });
  for (let i = 0; i < 100; i++) {
    const ok = await httpCall(`https://127.0.0.1:${r.restPort}/readyz`, { ca: tls.caCertPem }).then(
      () => true,
      () => false,
    );
    if (ok) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  throw new Error(`replica ${r.name} did not start`);
}

const get = (path = '/') => httpCall(`${lb.restUrl}${path}`, { ca: tls.caCertPem, timeoutInMs: 5_000, headers: { connection: 'close' } });

async function waitForStatus(server: string, status: string, withinMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const states = await backendStatus(lb.statsUrl);
    if (states.filter((s) => s.server === server).every((s) => s.status === status)) return Date.now() - start;
    if (Date.now() - start > withinMs) throw new Error(`${server} not ${status} within ${withinMs} ms: ${JSON.stringify(states)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hcs-haproxy-'));
  sup = new Supervisor({ stateDir: join(dir, 'supervisor') });
  tls = ensureDevCertificate(join(dir, 'tls'));
  for (const name of ['api-1', 'api-2']) replicas.push({ name, restPort: await freePort(), grpcPort: await freePort() });
  for (const r of replicas) await startReplica(r);
  lb = await startHaproxy(sup, {
    binary: toolPaths().haproxy,
    dataDir: dir,
    replicas,
    caCertFile: tls.caCertFile,
    serverName: 'localhost',
    healthPath: '/readyz',
  });
});

afterAll(async () => {
  await sup?.stop();
  for (const r of replicas) r.child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('HAProxy in front of two replicas', () => {
  it('passes TLS through to both replicas on both listeners, round robin', async () => {
    await waitForStatus('api-1', 'UP', 10_000);
    await waitForStatus('api-2', 'UP', 10_000);
    const rest = new Set<string>();
    for (let i = 0; i < 6; i++) rest.add((await get()).body);
    expect([...rest].sort()).toEqual(replicas.map((r) => `${r.name}:${r.restPort}`).sort());
    const grpcPort = lb.grpcAddress.split(':')[1];
    const grpc = new Set<string>();
    for (let i = 0; i < 6; i++)
      grpc.add((await httpCall(`https://127.0.0.1:${grpcPort}/`, { ca: tls.caCertPem, headers: { connection: 'close' } })).body);
    expect([...grpc].sort()).toEqual(replicas.map((r) => `${r.name}:${r.grpcPort}`).sort());
    expect(readFileSync(lb.configFile, 'utf8')).toContain('uri /readyz');
  });

  it('a replica that answers 503 on its readiness path is taken out, and comes back', async () => {
    const marker = join(dir, 'api-1.unready');
    writeFileSync(marker, '');
    await waitForStatus('api-1', 'DOWN', 5_000);
    for (let i = 0; i < 6; i++) expect((await get()).body).toBe(`api-2:${replicas[1]!.restPort}`);
    rmSync(marker);
    await waitForStatus('api-1', 'UP', 10_000);
  });

  it('a killed replica is out within a few seconds and every request after reaches the other', async () => {
    const victim = replicas[0]!;
    const exited = new Promise((r) => victim.child!.once('exit', r));
    victim.child!.kill('SIGKILL');
    await exited;
    const took = await waitForStatus('api-1', 'DOWN', 5_000);
    expect(took).toBeLessThan(5_000);
    for (let i = 0; i < 6; i++) expect((await get()).body).toBe(`api-2:${replicas[1]!.restPort}`);
    // Back on its ports, it is taken in again.
    await startReplica(victim);
    await waitForStatus('api-1', 'UP', 10_000);
  });
});

describe('haproxy configuration', () => {
  const base = { restPort: 1, grpcPort: 2, statsPort: 3, caCertFile: 'ca.pem', serverName: 'localhost', healthPath: '/readyz' };

  it('checks each replica on its REST port for both backends', () => {
    const cfg = haproxyConfig({ ...base, replicas: [{ name: 'a', restPort: 10, grpcPort: 11 }] });
    expect(cfg).toMatch(/server a 127\.0\.0\.1:10 check .* port 10\n/);
    expect(cfg).toMatch(/server a 127\.0\.0\.1:11 check .* port 10\n/);
  });

  it('refuses bad input, naming it', () => {
    expect(() => haproxyConfig({ ...base, replicas: [] })).toThrow(/at least one API replica/);
    expect(() => haproxyConfig({ ...base, replicas: [{ name: 'a b', restPort: 1, grpcPort: 2 }] })).toThrow(/invalid replica name "a b"/);
    const twice = { name: 'a', restPort: 1, grpcPort: 2 };
    expect(() => haproxyConfig({ ...base, replicas: [twice, twice] })).toThrow(/unique/);
    expect(() => haproxyConfig({ ...base, healthPath: '/x\nserver evil', replicas: [twice] })).toThrow(/invalid health path/);
  });

  it('reads server rows from the stats CSV', () => {
    const csv =
      '# pxname,svname,qcur,status\nrest,FRONTEND,,OPEN\nrest,api-1,0,UP\ngrpc,api-1,0,DOWN\nrest,BACKEND,0,UP\nstats,FRONTEND,,OPEN\n';
    expect(parseStatsCsv(csv)).toEqual([
      { backend: 'rest', server: 'api-1', status: 'UP' },
      { backend: 'grpc', server: 'api-1', status: 'DOWN' },
    ]);
    expect(() => parseStatsCsv('a,b\n')).toThrow(/pxname/);
  });
});
