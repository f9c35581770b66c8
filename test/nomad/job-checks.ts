// The checks the nomad/ job files must pass, each returning precise errors (empty: it passes):
// every setting a job sets is one its process reads; secrets come only from Vault templates
// (workload identity), never literal; commands run the build output of a real entry module;
// ports and health checks are the ones the process serves. What a process reads is derived from
// the code (the zod schemas, the routes), never from a second list kept here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { NomadJob, Task, Template } from './job-model.js';

export interface Setting {
  secret: boolean;
  /** The setting's own schema: literal values a job sets must parse with it. */
  schema: z.ZodType;
  /** For a JSON setting: the shape of the JSON, and the paths of the secret fields inside it (`vault.tokenFile`). */
  json?: z.ZodType;
  secretFields?: string[];
}

export interface ProcessSpec {
  /** The entry module, from the repository root (`apps/control-plane/src/api-main.ts`). */
  entry: string;
  settings: Map<string, Setting>;
  /** HTTP paths the process serves (health checks must use these). */
  routes: Set<string>;
  /** Its listeners: the setting of the listen address, and each port's setting with the health check it must have. */
  listeners?: { host: string; ports: { setting: string; check: 'readyz' | 'grpc' }[] };
}

export interface CheckContext {
  repoRoot: string;
  processes: ProcessSpec[];
  /** tsconfig.build.json: what `npm run build` compiles, and where it writes. */
  build: { outDir: string; rootDir: string; include: string[] };
}

/** Every check over every task of `job`. */
export function checkJob(job: NomadJob, ctx: CheckContext): string[] {
  return [
    ...checkShape(job),
    ...job.tasks.flatMap((task) => {
      const where = `${job.file}: task ${task.id}`;
      const commandErrors = checkCommand(task, ctx).map((e) => `${where}: ${e}`);
      const process = ctx.processes.find((p) => p.entry === entryOf(task, ctx));
      if (!process) return commandErrors;
      return [
        ...commandErrors,
        ...[
          ...checkSettings(task, process),
          ...checkValues(task, process),
          ...checkSecrets(task, process),
          ...checkPorts(task, process),
        ].map((e) => `${where}: ${e}`),
      ];
    }),
  ];
}

/** The job as a production service: replicas, rollout with canary and auto-revert, restart policy, sized resources. */
export function checkShape(job: NomadJob): string[] {
  const errors: string[] = [];
  if (job.type !== 'service') errors.push(`${job.file}: job ${job.name} is type ${job.type ?? '(unset)'}, not service`);
  if (job.tasks.length === 0) errors.push(`${job.file}: job ${job.name} has no task`);
  for (const t of job.tasks) {
    const where = `${job.file}: task ${t.id}`;
    if ((t.group.count ?? 1) < 2)
      errors.push(`${where}: its group runs ${t.group.count ?? 1} instance; a control-plane process runs at least 2`);
    if (!t.group.update || t.group.update.auto_revert !== true) errors.push(`${where}: its update block does not set auto_revert = true`);
    if (t.services.length > 0 && !(Number(t.group.update?.canary) >= 1))
      errors.push(`${where}: it registers a service but its update block has no canary (a bad version must fail on one allocation first)`);
    if (!t.group.restart) errors.push(`${where}: its group has no restart policy`);
    if (!t.group.reschedule) errors.push(`${where}: its group has no reschedule policy`);
    if (!t.resources || !(Number(t.resources.cpu) > 0) || !(Number(t.resources.memory) > 0))
      errors.push(`${where}: its resources block does not set cpu and memory`);
    for (const s of t.services)
      if (s.provider !== 'consul')
        errors.push(`${where}: service ${s.name} registers with ${s.provider ?? 'nomad (the default)'}, not consul`);
  }
  return errors;
}

/** The task runs `node` on a file of the build output whose source is a real module that `npm run build` compiles. */
export function checkCommand(task: Task, ctx: CheckContext): string[] {
  if (task.command !== 'node')
    return [`runs ${JSON.stringify(task.command ?? '')}, not node (production processes run the build output with plain node)`];
  const entry = entryOf(task, ctx);
  if (!entry) return [`runs ${JSON.stringify(task.args[0] ?? '')}, which is not a .js file under ${ctx.build.outDir}/ (the build output)`];
  if (!existsSync(join(ctx.repoRoot, entry))) return [`runs ${ctx.build.outDir}/${jsOf(entry)}, but its source ${entry} does not exist`];
  if (!ctx.build.include.some((dir) => entry.startsWith(`${dir.replace(/\/$/, '')}/`)))
    return [`runs ${ctx.build.outDir}/${jsOf(entry)}, but ${entry} is outside what npm run build compiles (tsconfig.build.json include)`];
  if (!ctx.processes.some((p) => p.entry === entry)) return [`runs ${entry}, which is not a control-plane process these checks know`];
  return [];
}

/** Every variable the task sets (env block and environment templates) is a setting its process reads. */
export function checkSettings(task: Task, process: ProcessSpec): string[] {
  const set = [
    ...Object.keys(task.env).map((name) => ({ name, how: 'its env block' })),
    ...task.templateEnv.map((l) => ({ name: l.name, how: `template ${l.template.destination}` })),
  ];
  const errors = set
    .filter((s) => !process.settings.has(s.name))
    .map((s) => `${s.how} sets ${s.name}, which ${process.entry} does not read`);
  const seen = new Set<string>();
  for (const s of set) {
    if (seen.has(s.name)) errors.push(`${s.name} is set twice (${s.how} sets it again)`);
    seen.add(s.name);
  }
  return errors;
}

/**
 * Every value the job writes parses with its setting's schema (a JSON setting's fields with the
 * JSON's schema). Values Nomad or the template fills in at run time (`${...}`, printf's `%s`) are
 * taken as right; a template line without a printf format is not read.
 */
export function checkValues(task: Task, process: ProcessSpec): string[] {
  const errors: string[] = [];
  const values = [
    ...Object.entries(task.env).map(([name, value]) => ({ name, text: value, how: 'its env block' })),
    ...task.templateEnv.flatMap((l) => {
      const format = /`([^`]*)`/.exec(l.value)?.[1];
      return format === undefined ? [] : [{ name: l.name, text: fill(format), how: `template ${l.template.destination}` }];
    }),
  ];
  for (const v of values) {
    const setting = process.settings.get(v.name);
    if (!setting || (!setting.json && v.text.includes('${'))) continue;
    const parsed = setting.schema.safeParse(v.text);
    if (!parsed.success) {
      errors.push(...parsed.error.issues.map((i) => `${v.how} sets ${v.name} to a value it refuses: ${i.message}`));
      continue;
    }
    if (!setting.json) continue;
    let json: unknown;
    try {
      json = JSON.parse(v.text);
    } catch {
      continue; // reported by checkSecrets when the setting has secret fields
    }
    const fields = setting.json.safeParse(json);
    if (fields.success) continue;
    for (const i of fields.error.issues) {
      const at = valueAt(json, i.path.map(String));
      if (typeof at === 'string' && (at.includes('${') || at.includes(PLACEHOLDER))) continue;
      errors.push(`${v.how} sets ${v.name} with ${i.path.join('.') || '(the whole value)'}: ${i.message}`);
    }
  }
  return errors;
}

/** Secrets come only from Vault through templates the task alone can read; nothing secret is literal. */
export function checkSecrets(task: Task, process: ProcessSpec): string[] {
  const errors: string[] = [];
  const vaultTemplates = task.templates.filter(readsVault);
  if (vaultTemplates.length > 0) {
    if (!task.vault) errors.push('reads Vault in a template but has no vault block (workload identity)');
    else if (typeof task.vault.role !== 'string' || task.vault.policies !== undefined)
      errors.push('its vault block must name a role for its workload identity and no token policies');
  }
  for (const t of vaultTemplates) {
    if (!normalPath(t.destination).startsWith('secrets/')) errors.push(`template ${t.destination} holds Vault secrets outside secrets/`);
    if (!t.env && (!task.user || t.uid === undefined))
      errors.push(
        `template ${t.destination} is owner-only but the task names no user or the template no uid: the process could not read it`,
      );
    if (!ownerOnly(t.perms))
      errors.push(
        `template ${t.destination} holds Vault secrets with perms ${t.perms ?? '0644 (the default)'}; set owner-only perms (0600)`,
      );
  }
  for (const [name, value] of Object.entries(task.env)) {
    const setting = process.settings.get(name);
    if (setting?.secret && !name.endsWith('_FILE'))
      errors.push(`sets the secret setting ${name} literally in its env block; render it from Vault in a template`);
    if (setting?.secret && name.endsWith('_FILE')) errors.push(...secretFile(task, name, value));
    if (setting?.secretFields) errors.push(...secretFields(task, name, value, undefined, setting.secretFields));
    errors.push(...literalCredentials(name, value));
  }
  for (const line of task.templateEnv) {
    const setting = process.settings.get(line.name);
    if (setting?.secret && !readsVault(line.template))
      errors.push(`template ${line.template.destination} sets the secret setting ${line.name} but reads nothing from Vault`);
    if (setting?.secret && line.name.endsWith('_FILE')) errors.push(...secretFile(task, line.name, line.value));
    if (setting?.secretFields) errors.push(...secretFields(task, line.name, line.value, line.template, setting.secretFields));
    errors.push(...literalCredentials(line.name, line.value));
  }
  return errors;
}

/** The process's listeners are the group's network ports, and every health check is a route the process serves. */
export function checkPorts(task: Task, process: ProcessSpec): string[] {
  const errors: string[] = [];
  const labelOf = (setting: string, kind: 'PORT' | 'IP') => {
    const v = task.env[setting];
    const m = new RegExp(`^\\$\\{NOMAD_${kind}_([A-Za-z0-9_-]+)\\}$`).exec(v ?? '');
    if (!m) {
      errors.push(`${setting} is ${v === undefined ? 'unset' : JSON.stringify(v)}, not \${NOMAD_${kind}_<port label>}`);
      return undefined;
    }
    if (!task.ports.includes(m[1] as string))
      errors.push(`${setting} names port ${m[1]}, which its group's network block does not declare`);
    return m[1];
  };
  const l = process.listeners;
  if (l) {
    labelOf(l.host, 'IP');
    const seen = new Map<string, string>();
    for (const p of l.ports) {
      const label = labelOf(p.setting, 'PORT');
      if (!label) continue;
      if (seen.has(label)) errors.push(`${seen.get(label)} and ${p.setting} share port ${label}`);
      seen.set(label, p.setting);
      const on = task.services.filter((s) => s.port === label).flatMap((s) => s.checks);
      if (p.check === 'readyz' && !on.some((c) => c.type === 'http' && c.path === '/readyz'))
        errors.push(`no service on port ${label} (${p.setting}) has an http check on /readyz`);
      if (p.check === 'grpc' && !on.some((c) => c.type === 'grpc'))
        errors.push(`no service on port ${label} (${p.setting}) has a grpc check`);
    }
  }
  for (const s of task.services) {
    if (!s.port || !task.ports.includes(s.port))
      errors.push(`service ${s.name} uses port ${s.port ?? '(none)'}, which its group's network block does not declare`);
    for (const c of s.checks) {
      if (c.port && !task.ports.includes(c.port)) errors.push(`check ${c.name} of service ${s.name} uses undeclared port ${c.port}`);
      if (c.type === 'http' && (!c.path || !process.routes.has(c.path)))
        errors.push(`check ${c.name} of service ${s.name} asks ${c.path ?? '(no path)'}, which ${process.entry} does not serve`);
    }
  }
  return errors;
}

/** The paths of the fields marked secret in an object schema (through optional, default and union wrappers). */
export function secretPaths(schema: z.ZodType, prefix = ''): string[] {
  const meta = (schema.meta() ?? {}) as { secret?: boolean };
  if (meta.secret === true) return [prefix];
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodDefault || schema instanceof z.ZodNullable)
    return secretPaths(schema.def.innerType as z.ZodType, prefix);
  if (schema instanceof z.ZodPipe) return secretPaths(schema.def.out as z.ZodType, prefix);
  if (schema instanceof z.ZodUnion) return [...new Set((schema.options as z.ZodType[]).flatMap((o) => secretPaths(o, prefix)))];
  if (schema instanceof z.ZodObject)
    return Object.entries(schema.shape).flatMap(([k, s]) => secretPaths(s as z.ZodType, prefix ? `${prefix}.${k}` : k));
  return [];
}

/** Whether a setting's schema is marked secret (lib/settings.ts `setting(..., { secret: true })`). */
export function isSecret(schema: z.ZodType): boolean {
  return secretPaths(schema).includes('');
}

const PLACEHOLDER = '__from_template__';

/** Secret fields inside a JSON setting: files Vault templates write, or values the template fills from Vault. */
function secretFields(task: Task, name: string, value: string, t: Template | undefined, paths: string[]): string[] {
  const raw = t ? /`([^`]*)`/.exec(value)?.[1] : value;
  let json: unknown;
  try {
    json = JSON.parse(fill(raw ?? ''));
  } catch {
    return [`${name} is not JSON the checks can read (a literal, or a template's printf \`...\` format)`];
  }
  const errors: string[] = [];
  for (const path of paths) {
    const v = valueAt(json, path.split('.'));
    if (typeof v !== 'string') continue;
    if (path.endsWith('File')) errors.push(...secretFile(task, `${name} ${path}`, v));
    else if (!v.includes(PLACEHOLDER) || !t || !readsVault(t))
      errors.push(`${name} ${path} is a secret written literally in the job; fill it from Vault in the template`);
  }
  return errors;
}

/** A printf format with its verbs replaced by what the template fills in. */
function fill(format: string): string {
  return format.replace(/%s/g, PLACEHOLDER).replace(/%d/g, '0');
}

function valueAt(json: unknown, path: string[]): unknown {
  return path.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), json);
}

/** A secret file setting names a file that a Vault template of this task writes, owner-only. */
function secretFile(task: Task, setting: string, value: string): string[] {
  const path = normalPath(value);
  const t = task.templates.find((x) => normalPath(x.destination) === path);
  if (!t) return [`${setting} names ${value}, which no template of the task writes`];
  if (!readsVault(t)) return [`${setting} names ${value}, whose template reads nothing from Vault`];
  return [];
}

function literalCredentials(name: string, value: string): string[] {
  const m = /:\/\/[^/\s:@"]+:([^@\s"]+)@/.exec(value);
  return m && m[1] !== '%s' && !m[1]?.startsWith('{{') ? [`${name} holds a URL with a literal password`] : [];
}

function readsVault(t: Template): boolean {
  return /\b(secret|pkiCert)\s+"/.test(t.data) || /\bfile\s+"secrets\/vault_token"/.test(t.data);
}

function ownerOnly(perms: string | undefined): boolean {
  return perms !== undefined && /^0?[0-7]{3}$/.test(perms) && (parseInt(perms, 8) & 0o007) === 0;
}

/** `${NOMAD_SECRETS_DIR}/x`, `/secrets/x` and `secrets/x` are one file; likewise for local/. */
function normalPath(p: string): string {
  return p
    .replace(/^\$\{NOMAD_SECRETS_DIR\}\//, 'secrets/')
    .replace(/^\$\{NOMAD_TASK_DIR\}\//, 'local/')
    .replace(/^\.?\//, '');
}

/** The source module the task's first argument runs, mapped back from the build output. */
function entryOf(task: Task, ctx: CheckContext): string | undefined {
  const out = ctx.build.outDir.replace(/^\.\//, '').replace(/\/$/, '');
  const m = new RegExp(`(?:^|/)${out}/(.+)\\.js$`).exec(task.args[0] ?? '');
  if (!m) return undefined;
  const root = ctx.build.rootDir.replace(/^\.\/?/, '').replace(/\/$/, '');
  return `${root ? `${root}/` : ''}${m[1]}.ts`;
}

function jsOf(entry: string): string {
  return entry.replace(/\.ts$/, '.js');
}
