// The nomad/ job files, checked against the code (Nomad itself cannot run here): each file parses
// with HashiCorp's HCL parser; every variable a job sets is a setting its process reads (the zod
// schemas); secrets come only from Vault templates; commands run the build output; ports and
// health checks are the API's. Each check is also fed a broken job and must name the fault.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { apiEnvSchema } from '../../apps/control-plane/src/api-config.js';
import { workerEnvSchema } from '../../apps/control-plane/src/config.js';
import { lifecycleConfigSchema } from '../../apps/worker/src/lifecycle-config.js';
import { checkJob, isSecret, secretPaths, type CheckContext, type ProcessSpec, type Setting } from './job-checks.js';
import { parseJob } from './job-model.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const nomadDir = join(repoRoot, 'nomad');

/** The JSON settings whose fields carry their own secret marks. */
const JSON_SETTINGS: Record<string, z.ZodType> = { HCS_LIFECYCLE: lifecycleConfigSchema };

function settingsOf(schema: z.ZodObject): Map<string, Setting> {
  return new Map(
    Object.entries(schema.shape).map(([name, s]) => {
      const nested = JSON_SETTINGS[name];
      return [
        name,
        {
          secret: isSecret(s as z.ZodType),
          schema: s as z.ZodType,
          ...(nested ? { json: nested, secretFields: secretPaths(nested) } : {}),
        },
      ];
    }),
  );
}

/** Literal paths registered as routes (`app.get('/healthz', ...)`, `'/readyz': async`, `url === '/readyz'`) in the folders' modules. */
function routesIn(...dirs: string[]): Set<string> {
  const routes = new Set<string>();
  for (const dir of dirs)
    for (const f of readdirSync(join(repoRoot, dir)).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts'))) {
      const text = readFileSync(join(repoRoot, dir, f), 'utf8');
      for (const m of text.matchAll(
        /\.(?:get|post|put|patch|delete|head)\(\s*['"`](\/[^'"`$]*)['"`]|(?:===|case)\s*['"](\/[^'"]*)['"]|['"](\/[\w./-]*)['"]\s*:\s*async/g,
      ))
        routes.add((m[1] ?? m[2] ?? m[3]) as string);
    }
  return routes;
}

function buildContext(): CheckContext {
  const build = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.build.json'), 'utf8')) as {
    compilerOptions: { outDir: string; rootDir: string };
    include: string[];
  };
  const api: ProcessSpec = {
    entry: 'apps/control-plane/src/api-main.ts',
    settings: settingsOf(apiEnvSchema),
    routes: routesIn('apps/api/src/rest'),
    listeners: {
      host: 'HCS_API_HOST',
      ports: [
        { setting: 'HCS_API_PORT', check: 'readyz' },
        { setting: 'HCS_GRPC_PORT', check: 'grpc' },
      ],
    },
  };
  const worker: ProcessSpec = {
    entry: 'apps/control-plane/src/worker-main.ts',
    settings: settingsOf(workerEnvSchema),
    routes: routesIn('apps/worker/src', 'apps/control-plane/src'),
    listeners: { host: 'HCS_WORKER_OPS_HOST', ports: [{ setting: 'HCS_WORKER_OPS_PORT', check: 'readyz' }] },
  };
  return {
    repoRoot,
    processes: [api, worker],
    build: { outDir: build.compilerOptions.outDir, rootDir: build.compilerOptions.rootDir, include: build.include },
  };
}

const jobFiles = readdirSync(nomadDir).filter((f) => f.endsWith('.nomad.hcl'));
let ctx: CheckContext;
let apiText: string;
/** What the checks say of the unchanged API job (nothing, when it passes). */
let apiBaseline: string[];
let workerText: string;
let workerBaseline: string[];

/** The errors a variant of a job adds to the unchanged job's: the fault the variant brings in. */
async function errorsFor(text: string, file: 'api' | 'worker' = 'api'): Promise<string[]> {
  const baseline = file === 'api' ? apiBaseline : workerBaseline;
  return checkJob(await parseJob(`nomad/${file}.nomad.hcl`, text), ctx).filter((e) => !baseline.includes(e));
}

/** `text` with `from` replaced by `to`; fails if `from` is not in it (a case that changes nothing proves nothing). */
function edit(text: string, from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  expect(out, `the edit ${String(from)} changes the job`).not.toBe(text);
  return out;
}

beforeAll(async () => {
  ctx = buildContext();
  apiText = readFileSync(join(nomadDir, 'api.nomad.hcl'), 'utf8');
  apiBaseline = checkJob(await parseJob('nomad/api.nomad.hcl', apiText), ctx);
  workerText = readFileSync(join(nomadDir, 'worker.nomad.hcl'), 'utf8');
  workerBaseline = checkJob(await parseJob('nomad/worker.nomad.hcl', workerText), ctx);
});

describe('nomad/ job files', () => {
  it('holds the API and the worker jobs', () => {
    expect(jobFiles.sort()).toEqual(['api.nomad.hcl', 'worker.nomad.hcl']);
  });

  it.each(jobFiles)('%s parses and passes every check', async (file) => {
    const job = await parseJob(`nomad/${file}`, readFileSync(join(nomadDir, file), 'utf8'));
    expect(job.tasks.length).toBeGreaterThan(0);
    expect(checkJob(job, ctx)).toEqual([]);
  });

  it('the checks know secret settings from the schemas (there is something to protect)', () => {
    const secrets = [...(ctx.processes[0]?.settings ?? [])].filter(([, s]) => s.secret).map(([n]) => n);
    expect(secrets).toContain('HCS_PAYLOAD_KEYS_FILE');
    expect(ctx.processes[1]?.settings.get('HCS_LIFECYCLE')?.secretFields).toContain('vault.tokenFile');
  });
});

describe('each check fails on a broken job, naming the fault', () => {
  const where = 'nomad/api.nomad.hcl: task api.api';

  it('a syntax error is the HCL parser’s, with file and line', async () => {
    await expect(parseJob('nomad/api.nomad.hcl', 'job "hcs-api" {\n  group "api" {\n')).rejects.toThrow(/nomad\/api\.nomad\.hcl:\d+,\d+/);
  });

  it('a variable the process does not read', async () => {
    const text = edit(apiText, 'HCS_LOG_LEVEL                 = "info"', 'HCS_LOG_LEVL = "info"');
    expect(await errorsFor(text)).toEqual([
      `${where}: its env block sets HCS_LOG_LEVL, which apps/control-plane/src/api-main.ts does not read`,
    ]);
  });

  it('a value its setting refuses, in the env block or inside HCS_LIFECYCLE', async () => {
    const text = edit(apiText, 'HCS_LOG_LEVEL                 = "info"', 'HCS_LOG_LEVEL = "verbose"');
    const errors = await errorsFor(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^nomad\/api\.nomad\.hcl: task api\.api: its env block sets HCS_LOG_LEVEL to a value it refuses: .*"warn"/);
    const w = 'nomad/worker.nomad.hcl: task worker.worker: template local/lifecycle.env sets HCS_LIFECYCLE with';
    const root = await errorsFor(edit(workerText, '"root":"azure"', '"root":"aws"'), 'worker');
    expect(root).toHaveLength(1);
    expect(root[0]).toMatch(new RegExp(`^${w} terraform\\.root: .*"local-twin"`));
    const missing = await errorsFor(edit(workerText, '"cliConfigFile":"/local/terraformrc",', ''), 'worker');
    expect(missing).toHaveLength(1);
    expect(missing[0]).toMatch(new RegExp(`^${w} terraform\\.cliConfigFile: `));
  });

  it('a template line setting a variable the process does not read', async () => {
    const text = edit(apiText, 'HCS_TEMPORAL_ADDRESS={{', 'HCS_TEMPORAL_HOST={{');
    expect(await errorsFor(text)).toEqual([
      `${where}: template local/temporal.env sets HCS_TEMPORAL_HOST, which apps/control-plane/src/api-main.ts does not read`,
    ]);
  });

  it('a secret file that no Vault template writes', async () => {
    const text = edit(apiText, '"${NOMAD_SECRETS_DIR}/payload-keys"', '"${NOMAD_TASK_DIR}/payload-keys"');
    expect(await errorsFor(text)).toEqual([
      `${where}: HCS_PAYLOAD_KEYS_FILE names \${NOMAD_TASK_DIR}/payload-keys, which no template of the task writes`,
    ]);
  });

  it('a secret setting written literally in the env block', async () => {
    const secretInline = [...(ctx.processes[0]?.settings ?? [])].find(([n, s]) => s.secret && !n.endsWith('_FILE'));
    // Every secret setting of today's schemas is a file; a literal secret JSON field is checked below.
    if (secretInline) {
      const text = edit(apiText, 'HCS_LOG_LEVEL                 = "info"', `HCS_LOG_LEVEL = "info"\n        ${secretInline[0]} = "x"`);
      expect(await errorsFor(text)).toContain(
        `${where}: sets the secret setting ${secretInline[0]} literally in its env block; render it from Vault in a template`,
      );
    }
    const text = edit(apiText, 'destination = "secrets/payload-keys"', 'destination = "local/payload-keys"');
    expect(await errorsFor(text)).toEqual([
      `${where}: template local/payload-keys holds Vault secrets outside secrets/`,
      `${where}: HCS_PAYLOAD_KEYS_FILE names \${NOMAD_SECRETS_DIR}/payload-keys, which no template of the task writes`,
    ]);
  });

  it('a secret file readable by other users', async () => {
    const text = edit(apiText, /(destination = "secrets\/payload-keys"\n\s+)perms\s+= "0600"/, '$1perms = "0644"');
    expect(await errorsFor(text)).toEqual([
      `${where}: template secrets/payload-keys holds Vault secrets with perms 0644; set owner-only perms (0600)`,
    ]);
  });

  it('a secret file the task user could not read', async () => {
    const text = edit(apiText, /(destination = "secrets\/payload-keys"\n\s+perms\s+= "0600"\n)\s+uid\s+= var.task_uid\n/, '$1');
    expect(await errorsFor(text)).toEqual([
      `${where}: template secrets/payload-keys is owner-only but the task names no user or the template no uid: the process could not read it`,
    ]);
  });

  it('a secret file whose template reads nothing from Vault', async () => {
    const text = edit(apiText, '{{ with secret "kv/data/hcs/control-plane" }}{{ .Data.data.payload_keys }}{{ end }}', 'k1:c2VjcmV0');
    expect(await errorsFor(text)).toEqual([
      `${where}: HCS_PAYLOAD_KEYS_FILE names \${NOMAD_SECRETS_DIR}/payload-keys, whose template reads nothing from Vault`,
    ]);
  });

  it('a secret field of HCS_LIFECYCLE outside a Vault template, or written literally', async () => {
    const w = 'nomad/worker.nomad.hcl: task worker.worker';
    expect(await errorsFor(edit(workerText, '"tokenFile":"/secrets/vault-token"', '"tokenFile":"/local/vault-token"'), 'worker')).toEqual([
      `${w}: HCS_LIFECYCLE vault.tokenFile names /local/vault-token, which no template of the task writes`,
    ]);
    expect(
      await errorsFor(edit(workerText, '"connStrFile":"/secrets/tfstate-conn"', '"connStrFile":"/local/tfstate-conn"'), 'worker'),
    ).toEqual([`${w}: HCS_LIFECYCLE terraform.backend.connStrFile names /local/tfstate-conn, which no template of the task writes`]);
    expect(await errorsFor(edit(workerText, '"tokenFile":"/secrets/vault-token"', '"tokenFile":"/secrets/vault-token'), 'worker')).toEqual([
      `${w}: HCS_LIFECYCLE is not JSON the checks can read (a literal, or a template's printf \`...\` format)`,
    ]);
  });

  it('a literal password in a URL', async () => {
    const text = edit(apiText, 'postgres://%s:%s@', 'postgres://hcs:hunter2@');
    expect(await errorsFor(text)).toContain(`${where}: HCS_DATABASE holds a URL with a literal password`);
  });

  it('Vault without workload identity', async () => {
    const text = edit(apiText, 'role        = var.vault_role', 'policies    = ["hcs-api"]');
    expect(await errorsFor(text)).toEqual([`${where}: its vault block must name a role for its workload identity and no token policies`]);
  });

  it('a command that is not the build output', async () => {
    expect(await errorsFor(edit(apiText, 'command = "node"', 'command = "tsx"'))).toEqual([
      `${where}: runs "tsx", not node (production processes run the build output with plain node)`,
    ]);
    expect(await errorsFor(edit(apiText, 'hcs/dist/apps/control-plane/src/api-main.js', 'hcs/apps/control-plane/src/api-main.ts'))).toEqual(
      [
        `${where}: runs "\${NOMAD_TASK_DIR}/hcs/apps/control-plane/src/api-main.ts", which is not a .js file under dist/ (the build output)`,
      ],
    );
    expect(await errorsFor(edit(apiText, 'src/api-main.js', 'src/api.js'))).toEqual([
      `${where}: runs dist/apps/control-plane/src/api.js, but its source apps/control-plane/src/api.ts does not exist`,
    ]);
    expect(await errorsFor(edit(apiText, 'dist/apps/control-plane/src/api-main.js', 'dist/test/global-setup.js'))).toEqual([
      `${where}: runs dist/test/global-setup.js, but test/global-setup.ts is outside what npm run build compiles (tsconfig.build.json include)`,
    ]);
  });

  it('a port setting that is not a declared port', async () => {
    const text = edit(apiText, '"${NOMAD_PORT_grpc}"', '"${NOMAD_PORT_rpc}"');
    expect(await errorsFor(text)).toEqual([
      `${where}: HCS_GRPC_PORT names port rpc, which its group's network block does not declare`,
      `${where}: no service on port rpc (HCS_GRPC_PORT) has a grpc check`,
    ]);
    expect(await errorsFor(edit(apiText, 'HCS_API_PORT                  = "${NOMAD_PORT_rest}"', 'HCS_API_PORT = "8443"'))).toEqual([
      `${where}: HCS_API_PORT is "8443", not \${NOMAD_PORT_<port label>}`,
    ]);
  });

  it("the worker's ops port undeclared, or its readiness check on a path it does not serve", async () => {
    const w = 'nomad/worker.nomad.hcl: task worker.worker';
    expect(await errorsFor(edit(workerText, '"${NOMAD_PORT_ops}"', '"${NOMAD_PORT_metrics}"'), 'worker')).toEqual([
      `${w}: HCS_WORKER_OPS_PORT names port metrics, which its group's network block does not declare`,
      `${w}: no service on port metrics (HCS_WORKER_OPS_PORT) has an http check on /readyz`,
    ]);
    expect(await errorsFor(edit(workerText, 'path     = "/readyz"', 'path     = "/ready"'), 'worker')).toEqual([
      `${w}: no service on port ops (HCS_WORKER_OPS_PORT) has an http check on /readyz`,
      `${w}: check ready of service hcs-worker asks /ready, which apps/control-plane/src/worker-main.ts does not serve`,
    ]);
  });

  it('a health check on a path the API does not serve, or no readiness check', async () => {
    const text = edit(apiText, 'path            = "/readyz"', 'path            = "/ready"');
    expect(await errorsFor(text)).toEqual([
      `${where}: no service on port rest (HCS_API_PORT) has an http check on /readyz`,
      `${where}: check ready of service hcs-api asks /ready, which apps/control-plane/src/api-main.ts does not serve`,
    ]);
  });

  it('no restart or reschedule policy, no resources, a setting set twice, Vault read without a vault block, another program', async () => {
    expect(await errorsFor(edit(apiText, /\n {4}restart \{[^}]*\}\n/, '\n'))).toEqual([`${where}: its group has no restart policy`]);
    expect(await errorsFor(edit(apiText, /\n {4}reschedule \{[^}]*\}\n/, '\n'))).toEqual([`${where}: its group has no reschedule policy`]);
    expect(await errorsFor(edit(apiText, /\n {6}resources \{[^}]*\}\n/, '\n'))).toEqual([
      `${where}: its resources block does not set cpu and memory`,
    ]);
    expect(
      await errorsFor(
        edit(apiText, 'HCS_LOG_LEVEL                 = "info"', 'HCS_LOG_LEVEL = "info"\n        HCS_TEMPORAL_ADDRESS = "x:1"'),
      ),
    ).toEqual([`${where}: HCS_TEMPORAL_ADDRESS is set twice (template local/temporal.env sets it again)`]);
    expect(await errorsFor(edit(apiText, /\n {6}vault \{[^}]*\}\n/, '\n'))).toEqual([
      `${where}: reads Vault in a template but has no vault block (workload identity)`,
    ]);
    expect(await errorsFor(edit(apiText, 'dist/apps/control-plane/src/api-main.js', 'dist/apps/host-manager/src/main.js'))).toEqual([
      `${where}: runs apps/host-manager/src/main.ts, which is not a control-plane process these checks know`,
    ]);
  });

  it('a rollout without canary or auto-revert, one replica, another service provider', async () => {
    expect(await errorsFor(edit(apiText, /canary\s+= 1/, 'canary = 0'))).toEqual([
      `${where}: it registers a service but its update block has no canary (a bad version must fail on one allocation first)`,
    ]);
    expect(await errorsFor(edit(apiText, /auto_revert\s+= true/, 'auto_revert = false'))).toEqual([
      `${where}: its update block does not set auto_revert = true`,
    ]);
    expect(await errorsFor(edit(apiText, 'count = 2', 'count = 1'))).toEqual([
      `${where}: its group runs 1 instance; a control-plane process runs at least 2`,
    ]);
    expect(
      await errorsFor(edit(apiText, 'provider = "consul"\n      port     = "grpc"', 'provider = "nomad"\n      port     = "grpc"')),
    ).toEqual([`${where}: service hcs-api-grpc registers with nomad, not consul`]);
  });
});
