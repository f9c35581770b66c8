// A host-manager that crashed leaves its Consul running; the next one must stop it before it
// starts its own (or the old agent would hold the ports). Real consul, a really killed process.
// An agent that left its cluster (a scale-down's leave; Consul exits 0) stays down: started
// again, it would rejoin as a voter just before its VM is deleted.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { freePort } from '../../../devstack/supervisor.js';
import { repoRoot } from '../../../scripts/toolchain.mjs';
import { ConsulProcess } from './consul-process.js';
import { isProcessAlive } from '../../../lib/processes.js';

const stack = inject('stack');
const binary = stack.tools.consul[stack.tools.consulVersions.at(-1)!]!;
const work = mkdtempSync(join(tmpdir(), 'hcs-consul-orphan-'));
const configDir = join(work, 'config');
let current: ConsulProcess | undefined;
let leaving: ConsulProcess | undefined;
afterAll(async () => {
  await current?.stop();
  await leaving?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('stops the Consul a crashed host-manager left running, then starts its own', async () => {
  const [http, serf, server] = [await freePort(), await freePort(), await freePort()];
  mkdirSync(configDir, { recursive: true });
  writeFileSync(
    join(configDir, 'consul.json'),
    JSON.stringify({
      server: true,
      bootstrap_expect: 1,
      bind_addr: '127.0.0.1',
      client_addr: '127.0.0.1',
      data_dir: join(work, 'data'),
      ports: { http, dns: -1, grpc: -1, grpc_tls: -1, serf_lan: serf, serf_wan: -1, server },
    }),
  );
  // The "first host-manager": a process that starts Consul through ConsulProcess, then dies hard.
  const script = [
    `import { ConsulProcess } from ${JSON.stringify(join(repoRoot, 'apps/host-manager/src/consul-process.ts'))};`,
    `const c = new ConsulProcess({ configDir: ${JSON.stringify(configDir)}, workDir: ${JSON.stringify(work)}, logFile: ${JSON.stringify(join(work, 'consul.log'))} });`,
    `await c.ensure('v', ${JSON.stringify(binary)});`,
    `process.stdout.write(String(c.pid) + '\\n');`,
    'setInterval(() => {}, 1000);',
  ].join('\n');
  writeFileSync(join(work, 'first.mts'), script);
  const first = spawn(process.execPath, ['--import', 'tsx', join(work, 'first.mts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  const orphan = await new Promise<number>((resolve) => first.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
  for (let i = 0; i < 100 && (await httpCall(`http://127.0.0.1:${http}/v1/status/leader`).catch(() => undefined))?.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  expect(isProcessAlive(orphan)).toBe(true); // the crash left Consul behind

  current = new ConsulProcess({ configDir, workDir: work, logFile: join(work, 'consul.log') });
  expect(await current.ensure('v', binary)).toBe('started');
  expect(isProcessAlive(orphan)).toBe(false);
  expect(current.pid).not.toBe(orphan);
  // The new agent is the one answering on the ports.
  let self: { Config?: { NodeName?: string } } | undefined;
  for (let i = 0; i < 100 && !self?.Config; i++) {
    await new Promise((r) => setTimeout(r, 200));
    self = await httpCall(`http://127.0.0.1:${http}/v1/agent/self`)
      .then((r) => JSON.parse(r.body) as typeof self)
      .catch(() => undefined);
  }
  expect(self?.Config).toBeDefined();
  expect(current.running).toBe(true);
});

it('does not start an agent again once it has left its cluster (exit 0), but does after a crash', async () => {
  const dir = join(work, 'leaving');
  const config = join(dir, 'config');
  const http = await freePort();
  mkdirSync(config, { recursive: true });
  writeFileSync(
    join(config, 'consul.json'),
    JSON.stringify({
      server: true,
      bootstrap_expect: 1,
      bind_addr: '127.0.0.1',
      client_addr: '127.0.0.1',
      data_dir: join(dir, 'data'),
      ports: { http, dns: -1, grpc: -1, grpc_tls: -1, serf_lan: await freePort(), serf_wan: -1, server: await freePort() },
    }),
  );
  const events: string[] = [];
  leaving = new ConsulProcess({ configDir: config, workDir: dir, logFile: join(dir, 'consul.log'), onEvent: (e) => events.push(e) });
  const answers = async () => (await httpCall(`http://127.0.0.1:${http}/v1/status/leader`).catch(() => undefined))?.status === 200;
  const until = async (what: () => boolean | Promise<boolean>) => {
    for (let i = 0; i < 150 && !(await what()); i++) await new Promise((r) => setTimeout(r, 200));
  };
  expect(await leaving.ensure('v', binary)).toBe('started');
  await until(answers);
  // A crash (SIGKILL) is restarted, as systemd's Restart=on-failure would.
  const crashed = leaving.pid!;
  process.kill(crashed, 'SIGKILL');
  await until(() => leaving!.running && leaving!.pid !== crashed);
  expect(leaving.pid).not.toBe(crashed);
  await until(answers);
  // A graceful leave ends the agent with 0: it stays down, and ensure (every sync) does not start it.
  const res = await httpCall(`http://127.0.0.1:${http}/v1/agent/leave`, { method: 'PUT', timeoutInMs: 30_000 });
  expect(res.status).toBe(200);
  await until(() => leaving!.left);
  expect(leaving.left).toBe(true);
  await new Promise((r) => setTimeout(r, 2_500)); // past the 1 s restart back-off
  expect(leaving.running).toBe(false);
  expect(await leaving.ensure('v', binary)).toBe('unchanged');
  expect(leaving.running).toBe(false);
  expect(await answers()).toBe(false);
  expect(events.filter((e) => e.startsWith('consul v started'))).toHaveLength(2);
  expect(events.at(-1)).toMatch(/left its cluster and exited \(0\); not restarted/);
}, 120_000);
