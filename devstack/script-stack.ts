// For long scripts (chaos runs, benchmarks) that need the whole stack: the first call starts the
// stack and re-runs the script in a child process that trusts the stack's CAs the way our
// processes do (NODE_EXTRA_CA_CERTS is read only at process start); the parent then stops the
// stack and exits with the child's code. In the child the call returns the stack's endpoints.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from '../scripts/toolchain.mjs';
import { serveServiceControl } from './service-control.js';
import { startStack, type StackEndpoints } from './stack.js';

const ENV = 'HCS_SCRIPT_STACK';

export async function stackForScript(o: {
  name: string;
  scriptUrl: string;
  /** Chaos: a private PostgreSQL, OpenBao on file storage, the twin's fault API, and serviceControl() in the script. */
  chaos?: boolean;
  /** The production Temporal server on the store's PostgreSQL instead of the dev server (its databases are dropped at the end). */
  productionTemporal?: boolean;
}): Promise<StackEndpoints> {
  const given = process.env[ENV];
  if (given) return JSON.parse(given) as StackEndpoints;
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const dataDir = join(repoRoot, '.test-data', `${o.name}-${runId}`);
  mkdirSync(dataDir, { recursive: true });
  const stack = await startStack({
    dataDir,
    // Chaos runs stop and start OpenBao: on file storage its CAs and transit keys survive.
    persistent: o.chaos === true,
    database: { name: `hcs_${o.name}_${runId}`, prefer: 'auto' },
    ...(o.chaos ? { chaos: true } : {}),
    ...(o.productionTemporal ? { temporal: { kind: 'production' as const, databasePrefix: `hcs_tsrv_${o.name}_${runId}` } } : {}),
  });
  let code = 1;
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(o.scriptUrl)], {
      stdio: o.chaos ? ['inherit', 'inherit', 'inherit', 'ipc'] : 'inherit',
      env: { ...process.env, [ENV]: JSON.stringify(stack.endpoints), NODE_EXTRA_CA_CERTS: stack.endpoints.caBundleFile },
    });
    if (o.chaos) serveServiceControl(child, stack.supervisor);
    code = await new Promise<number>((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.exit(code);
}
