// What a real terraform run of the driver can see: an environment from the allow-list alone (none
// of the worker's secrets, even when the worker's environment holds them), the pg backend's
// connection string only as PG_CONN_STR (not on a command line, not in a file), a private
// (0700) run folder in a private work root; and the sweep at worker start, which removes the run
// folders of processes that are gone and leaves everything else (a run in progress, other files).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { PASSED_THROUGH } from '../../activities/terraform-env.js';
import { startTimeOf } from '../../activities/terraform-workdirs.js';
import { createTerraformActivities } from '../../activities/terraform.js';
import { buildLifecycleDeps, lifecycleConfigSchema } from '../../apps/worker/src/lifecycle-config.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { startWorker } from '../../apps/worker/src/worker.js';
import { localLifecycleConfig } from '../../devstack/lifecycle.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { openDatabase } from '../../store/database.js';
import { waitForTerraformApply } from '../support/processes.js';

const stack = inject('stack');
const base = mkdtempSync(join(tmpdir(), 'hcs-tf-isolation-'));
const hex = () => randomBytes(16).toString('hex');

/** What the worker's environment holds and terraform must never see. */
const planted: Record<string, string> = {
  VAULT_TOKEN: `s.${hex()}`,
  BAO_TOKEN: `s.${hex()}`,
  HCS_PAYLOAD_KEYS: `k1:${randomBytes(32).toString('base64')}`,
  HCS_DATABASE_URL: `postgres://hcs:${hex()}@db.internal:5432/hcs`,
  AZURE_STORAGE_KEY: randomBytes(64).toString('base64'),
  AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=https;AccountName=hcs;AccountKey=${randomBytes(64).toString('base64')}`,
  ARM_ACCESS_KEY: randomBytes(64).toString('base64'),
  ARM_CLIENT_SECRET: hex(),
  PGPASSWORD: hex(),
  TF_VAR_leak: hex(),
};
/** An allow-listed name, to show that what is allowed does pass. */
const allowedNoProxy = `127.0.0.1,localhost,${hex()}.internal`;
const saved: Record<string, string | undefined> = {};

/** The store's PostgreSQL with a password in its URL (the local server trusts loopback and ignores it). */
let connStr = '';
let dbPassword = '';

/** A module whose one resource waits until the test creates the gate file: the run is held open at will. */
const moduleDir = join(base, 'module');
mkdirSync(moduleDir);
writeFileSync(
  join(moduleDir, 'main.tf'),
  `variable "gate" {
  type = string
}

resource "terraform_data" "held" {
  input = var.gate
  provisioner "local-exec" {
    command = "while [ ! -e '\${var.gate}' ]; do sleep 0.1; done"
  }
}

output "gate" {
  value = terraform_data.held.output
}
`,
);

beforeAll(() => {
  if (stack.database.kind !== 'postgres') throw new Error('the Terraform pg backend needs the PostgreSQL store database');
  const url = new URL(stack.database.url);
  url.searchParams.set('sslmode', 'disable');
  if (!url.password) url.password = hex();
  dbPassword = decodeURIComponent(url.password);
  connStr = url.toString();
  for (const [k, v] of Object.entries({ ...planted, NO_PROXY: allowedNoProxy })) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(base, { recursive: true, force: true });
});

function environOf(pid: number): Record<string, string> {
  const entries = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

/** Every process below `pid` (terraform's provisioner shell and what it runs). */
function descendantsOf(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      parentOf.set(Number(p), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone meanwhile */
    }
  }
  const found: number[] = [];
  for (let frontier = [pid]; frontier.length;) {
    frontier = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([child]) => child);
    found.push(...frontier);
  }
  return found;
}

/** Every file under `dir`, with its content. */
function filesUnder(dir: string): Array<{ path: string; content: Buffer }> {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => ({ path: join(e.parentPath, e.name), content: readFileSync(join(e.parentPath, e.name)) }));
}

const mode = (path: string) => statSync(path).mode & 0o777;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it("gives terraform and what it starts only the allow-listed environment, in a private folder, never the worker's secrets", async () => {
  const workRoot = join(base, 'work'); // made by the driver
  const tf = createTerraformActivities({
    terraformBinary: stack.tools.terraform,
    cliConfigFile: stack.tools.terraformConfig.cliConfigFile,
    workRoot,
    backend: { kind: 'pg', connStr },
  });
  const gate = join(base, 'gate-1');
  const state = `hcs_${hex()}`;
  const applied = tf.terraformApply({ state, owner: { clusterId: state.slice(4) }, moduleDir, variables: { gate } });
  let outcome: unknown = 'still running';
  applied.then(
    (r) => (outcome = r),
    (e: unknown) => (outcome = e),
  );

  const pid = await waitForTerraformApply(stack.tools.terraform, workRoot);
  expect(pid, `terraform apply never ran: ${String(outcome)}`).toBeGreaterThan(0);
  // The provisioner's shell runs under terraform with terraform's environment.
  const children = await until('the provisioner', () => {
    const d = descendantsOf(pid);
    return d.length ? d : undefined;
  });

  const tfEnv = environOf(pid);
  const allowed = new Set<string>([...PASSED_THROUGH, 'PG_CONN_STR', 'TF_CLI_CONFIG_FILE', 'TF_IN_AUTOMATION', 'CHECKPOINT_DISABLE']);
  expect(Object.keys(tfEnv).filter((k) => !allowed.has(k))).toEqual([]);
  expect(tfEnv).toMatchObject({
    PG_CONN_STR: connStr,
    PATH: process.env.PATH,
    NO_PROXY: allowedNoProxy,
    TF_CLI_CONFIG_FILE: stack.tools.terraformConfig.cliConfigFile,
    TF_IN_AUTOMATION: '1',
  });
  const secrets = Object.values(planted);
  for (const p of [pid, ...children]) {
    let env: Record<string, string>;
    try {
      env = environOf(p);
    } catch {
      continue; // a short-lived `sleep` of the loop, gone already
    }
    for (const name of Object.keys(planted)) expect(env, `process ${p}`).not.toHaveProperty(name);
    const all = Object.entries(env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    for (const secret of secrets) expect(all.includes(secret), `process ${p} sees a planted secret`).toBe(false);
  }
  // The database password is on no command line and in no file of the run.
  for (const p of [pid, ...children]) {
    const cmdline = existsSync(`/proc/${p}`) ? readFileSync(`/proc/${p}/cmdline`, 'utf8') : '';
    expect(cmdline.includes(dbPassword), `command line of ${p}`).toBe(false);
  }
  const folder = readlinkSync(`/proc/${pid}/cwd`);
  expect(dirname(folder)).toBe(workRoot);
  expect(basename(folder)).toMatch(new RegExp(`^tfrun-${process.pid}-\\d+-[0-9a-f]{8}-${state}$`));
  const files = filesUnder(folder);
  expect(files.map((f) => basename(f.path))).toEqual(expect.arrayContaining(['_backend.tf.json', 'main.tf', 'run.tfplan']));
  for (const f of files) expect(f.content.includes(dbPassword), f.path).toBe(false);
  expect(JSON.parse(readFileSync(join(folder, '_backend.tf.json'), 'utf8'))).toEqual({
    terraform: { backend: { pg: { schema_name: 'hcs_terraform_state' } } },
  });
  // Private: the run's folder and the work root above it.
  expect(mode(folder)).toBe(0o700);
  expect(mode(workRoot)).toBe(0o700);

  writeFileSync(gate, '');
  expect(await applied).toEqual({ changed: true, outputs: { gate } });
  expect(existsSync(folder)).toBe(false);
  await tf.terraformDestroy({ state, owner: { clusterId: state.slice(4) }, moduleDir, variables: { gate }, deleteState: true });
});

it('sweeps, when a worker starts, the run folders of processes that are gone and leaves the rest', async () => {
  const root = join(base, 'sweep');
  mkdirSync(root, { mode: 0o755 }); // an existing work root others could enter: made private
  const folder = (name: string) => {
    mkdirSync(join(root, name));
    writeFileSync(join(root, name, 'terraform.tfvars.json'), '{}');
    return name;
  };
  const tag = () => randomBytes(4).toString('hex');
  const exited = spawnSync('true').pid;
  const sleeper: ChildProcess = spawn('sleep', ['300'], { stdio: 'ignore' });
  try {
    const sleeperStart = await until('the sleeper', () => startTimeOf(sleeper.pid!));
    const ownStart = startTimeOf(process.pid)!;
    const stale = [
      folder(`tfrun-${exited}-${ownStart}-${tag()}-hcs_dead`), // its process is gone
      folder(`tfrun-${sleeper.pid}-${Number(sleeperStart) + 1}-${tag()}-hcs_reused`), // its pid is another process now
      folder(`tfrun-${process.pid}-${ownStart}-${tag()}-hcs_leftover`), // this process, no run open there
      folder(`tfrun-${process.pid}-${Number(ownStart) - 1}-${tag()}-hcs_restarted`), // an earlier process with this pid
    ];
    const outside = join(base, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'keep'), 'keep');
    const others = [
      folder(`tfrun-${sleeper.pid}-${sleeperStart}-${tag()}-hcs_live`), // its process runs
      folder('notes'),
      folder('tfrun-not-a-run'),
    ];
    writeFileSync(join(root, `tfrun-${exited}-1-${tag()}-a-file`), 'not a folder');
    symlinkSync(outside, join(root, `tfrun-${exited}-1-${tag()}-a-link`));
    others.push(...readdirSync(root).filter((n) => n.endsWith('-a-file') || n.endsWith('-a-link')));

    // The worker's own driver, as the worker builds it, holds a run open in the same work root.
    const config = lifecycleConfigSchema.parse(localLifecycleConfig(stack, { workRoot: root }));
    const payloadKeys = parsePayloadKeys(`t:${randomBytes(32).toString('base64')}`);
    const db = await openDatabase(stack.database);
    const deps = buildLifecycleDeps(config, { db, sealer: new SecretBox(deriveSealingKeys(payloadKeys)) });
    const gate = join(base, 'gate-2');
    const state = `hcs_${hex()}`;
    let settled = false;
    const applied = deps.terraform.terraformApply({ state, owner: { clusterId: state.slice(4) }, moduleDir, variables: { gate } });
    void applied.finally(() => (settled = true)).catch(() => undefined);
    const pid = await waitForTerraformApply(stack.tools.terraform, root);
    expect(pid).toBeGreaterThan(0);
    const running = basename(readlinkSync(`/proc/${pid}/cwd`));

    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      /* installed by an earlier test in this process */
    }
    const worker = await startWorker({
      temporal: stack.temporal,
      db,
      taskQueue: `tf-sweep-${randomUUID()}`,
      payloadCodec: new AesGcmPayloadCodec(payloadKeys),
      lifecycle: deps,
    });
    try {
      const left = readdirSync(root);
      expect(left.filter((n) => stale.includes(n))).toEqual([]);
      // The folder `terraform init` prepared for the module (activities/terraform-init.ts) is this process's and stays.
      const prepared = left.filter((n) => new RegExp(`^tfrun-${process.pid}-\\d+-[0-9a-f]{8}-init-[0-9a-f]{16}$`).test(n));
      expect(prepared).toHaveLength(1);
      expect(left.sort()).toEqual([...others, running, ...prepared].sort());
      expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('keep');
      expect(mode(root)).toBe(0o700);
      // The run in progress kept its folder and finishes.
      expect(settled).toBe(false);
      writeFileSync(gate, '');
      expect(await applied).toEqual({ changed: true, outputs: { gate } });
      expect(readdirSync(root).sort()).toEqual([...others, ...prepared].sort());
      await deps.terraform.terraformDestroy({
        state,
        owner: { clusterId: state.slice(4) },
        moduleDir,
        variables: { gate },
        deleteState: true,
      });
    } finally {
      await worker.shutdown();
      await db.close();
    }
  } finally {
    sleeper.kill('SIGKILL');
  }
});
