import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { repoRoot } from '../scripts/toolchain.mjs';
import { Supervisor, freePort } from './supervisor.js';
import { isProcessAlive } from '../lib/processes.js';

const dirs: string[] = [];
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'hcs-sup-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return cond();
}

it('waits for the probe, writes the log file and stops the whole process group', async () => {
  const dir = stateDir();
  const sup = new Supervisor({ stateDir: dir });
  let probes = 0;
  const p = await sup.start({
    name: 'echoer',
    command: 'sh',
    args: ['-c', 'echo hello-from-service; sleep 1000 & echo $! > "$0"; wait', join(dir, 'gc.pid')],
    probe: async () => {
      if (++probes < 3) throw new Error('not yet');
    },
  });
  expect(probes).toBe(3);
  await waitUntil(() => existsSync(join(dir, 'gc.pid')), 5_000);
  const grandchild = Number(readFileSync(join(dir, 'gc.pid'), 'utf8'));
  expect(isProcessAlive(p.pid) && isProcessAlive(grandchild)).toBe(true);
  await sup.stop();
  expect(isProcessAlive(p.pid)).toBe(false);
  expect(isProcessAlive(grandchild)).toBe(false);
  expect(readFileSync(p.logFile, 'utf8')).toContain('hello-from-service');
});

it('reports a service that exits before it is ready, with its log', async () => {
  const sup = new Supervisor({ stateDir: stateDir() });
  await expect(
    sup.start({
      name: 'crasher',
      command: 'sh',
      args: ['-c', 'echo cannot bind port >&2; exit 3'],
      probe: () => Promise.reject(new Error('down')),
    }),
  ).rejects.toThrow(/crasher exited before it was ready \(3\)[\s\S]*cannot bind port/);
  await sup.stop();
});

it('gives up after the readiness timeout and stops the process', async () => {
  const sup = new Supervisor({ stateDir: stateDir() });
  const port = await freePort();
  const err = await sup
    .start({
      name: 'never-ready',
      command: 'sleep',
      args: ['1000'],
      readyTimeoutMs: 700,
      probe: () => Promise.reject(new Error(`nothing on ${port}`)),
    })
    .catch((e: Error) => e);
  expect(String(err as Error)).toMatch(/never-ready was not ready within 700 ms \(last probe: nothing on \d+\)/);
  await sup.stop();
});

async function startFixture(dir: string): Promise<{ child: ReturnType<typeof spawn>; pids: number[] }> {
  // node --import tsx runs the fixture in this very process (the tsx CLI would add a wrapper
  // process, and killing the wrapper would not kill the supervisor).
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'supervise-sleepers.ts'), dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = '';
    child.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      if (buf.includes('\n')) resolve(buf.split('\n')[0]!);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
  });
  const pids = (JSON.parse(line) as { pids: number[] }).pids;
  await waitUntil(() => existsSync(join(dir, 'grandchild.pid')), 5_000);
  pids.push(Number(readFileSync(join(dir, 'grandchild.pid'), 'utf8')));
  return { child, pids };
}

it('stops every service on Ctrl-C (SIGINT) and exits 130', async () => {
  const dir = stateDir();
  const { child, pids } = await startFixture(dir);
  expect(pids.every(isProcessAlive)).toBe(true);
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  expect(await exit).toBe(130);
  expect(await waitUntil(() => pids.every((p) => !isProcessAlive(p)), 5_000)).toBe(true);
});

it('leaves no orphan when the supervising process is killed with SIGKILL', async () => {
  const dir = stateDir();
  const { child, pids } = await startFixture(dir);
  expect(pids.every(isProcessAlive)).toBe(true);
  child.kill('SIGKILL');
  // The watchdog notices within a second and stops the groups (TERM, then KILL after 3 s).
  expect(await waitUntil(() => pids.every((p) => !isProcessAlive(p)), 10_000)).toBe(true);
});
