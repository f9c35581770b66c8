// `npm run build` once per test run: into the run's own folder (`<stack.dataDir>/dist`), so a
// run never reads another run's (or a developer's) dist/ while it is being rebuilt. The first test
// file that needs it builds; the others wait for it and reuse it.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { StackEndpoints } from '../../devstack/stack.js';
import { repoRoot } from '../../scripts/toolchain.mjs';

export interface DistBuild {
  /** The build's output folder: `node <dir>/apps/control-plane/src/api-main.js` runs the API. */
  dir: string;
  /** How long `npm run build` took in this run (ms), and whether this call ran it. */
  buildMs: number;
  builtHere: boolean;
}

/** The run's build, made by the first caller (others wait up to `timeoutMs` for it). */
export async function runBuild(stack: Pick<StackEndpoints, 'dataDir'>, timeoutMs = 600_000): Promise<DistBuild> {
  const dir = join(stack.dataDir, 'dist');
  const marker = join(stack.dataDir, 'dist-built.json');
  const lock = join(stack.dataDir, 'dist-build.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(marker)) return { dir, builtHere: false, ...(JSON.parse(readFileSync(marker, 'utf8')) as { buildMs: number }) };
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (Date.now() > deadline) throw new Error(`no build in ${dir} after ${timeoutMs} ms (another test file holds ${lock})`);
    await delay(1_000);
  }
  try {
    const started = Date.now();
    const output = await npmBuild(dir, deadline - started);
    if (!existsSync(join(dir, 'apps', 'control-plane', 'src', 'api-main.js')))
      throw new Error(`npm run build made no API entry:\n${output}`);
    const buildMs = Date.now() - started;
    writeFileSync(marker, JSON.stringify({ buildMs }));
    return { dir, buildMs, builtHere: true };
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** `npm run build -- --out-dir <dir>`; resolves with its output, rejects with it on failure. */
function npmBuild(dir: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', 'build', '--', '--out-dir', dir], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`npm run build failed (${signal ?? code}):\n${output.slice(-4000)}`));
    });
  });
}
