// runPaced (http-load.ts) from a second process (paced-client.ts): the server under test keeps
// its event loop and its core to itself, as it would serving clients on other machines, and the
// CPU figure is the serving process's own per answer. In the same process, the generator's own
// sends and reads fell into every latency it measured.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { figures, type LoadFigures, type runPaced } from './http-load.js';

const client = fileURLToPath(new URL('./paced-client.ts', import.meta.url));

export async function runPacedApart(o: Parameters<typeof runPaced>[0]): Promise<LoadFigures> {
  const cpuAtStart = process.cpuUsage();
  const child = spawn(process.execPath, ['--import', 'tsx', client, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) throw new Error(`the paced load generator exited with ${code}`);
  const cpu = process.cpuUsage(cpuAtStart);
  const f = JSON.parse(out) as { seconds: number; non2xx: number; errors: number; sorted: number[] };
  return figures(Float64Array.from(f.sorted), {
    seconds: f.seconds,
    non2xx: f.non2xx,
    errors: f.errors,
    timeouts: 0,
    cpuUs: cpu.user + cpu.system,
  });
}
