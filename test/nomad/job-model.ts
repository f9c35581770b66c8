// A Nomad job file as the checks see it: parsed with HashiCorp's HCL parser (@cdktf/hcl2json,
// compiled to WebAssembly) and flattened into its tasks, each with its group's network ports and
// services, its env block, its templates and the settings the templates' environment files set.
import { parse } from '@cdktf/hcl2json';

type Body = Record<string, unknown>;

export interface Template {
  data: string;
  destination: string;
  env: boolean;
  perms: string | undefined;
  /** Owner of the rendered file (Nomad's agent user, root, when unset). */
  uid: string | undefined;
}

export interface Check {
  name: string;
  type: string;
  path: string | undefined;
  port: string | undefined;
  protocol: string | undefined;
}

export interface Service {
  name: string;
  provider: string | undefined;
  port: string | undefined;
  checks: Check[];
}

export interface Task {
  /** `group.task`, as errors name it. */
  id: string;
  driver: string | undefined;
  /** The user the task runs as (the driver's default when unset). */
  user: string | undefined;
  command: string | undefined;
  args: string[];
  env: Record<string, string>;
  templates: Template[];
  /** Settings the env templates set, with the raw text after `KEY=` on their line. */
  templateEnv: { name: string; value: string; template: Template }[];
  vault: Body | undefined;
  resources: Body | undefined;
  ports: string[];
  services: Service[];
  group: { count: number | undefined; update: Body | undefined; restart: Body | undefined; reschedule: Body | undefined };
}

export interface NomadJob {
  file: string;
  name: string;
  type: string | undefined;
  update: Body | undefined;
  tasks: Task[];
}

/** Parses one job file; a syntax error is the parser's message, naming file, line and column. */
export async function parseJob(file: string, text: string): Promise<NomadJob> {
  const root = (await parse(file, text)) as Body;
  const jobs = labelled(root, 'job');
  if (jobs.length !== 1) throw new Error(`${file}: holds ${jobs.length} job blocks; a job file holds exactly one`);
  const [name, job] = jobs[0] as [string, Body];
  const jobUpdate = first(job, 'update');
  const tasks: Task[] = [];
  for (const [groupName, group] of labelled(job, 'group')) {
    const ports = blocks(group, 'network').flatMap((n) => Object.keys((n.port ?? {}) as Body));
    const groupServices = blocks(group, 'service').map(service);
    for (const [taskName, task] of labelled(group, 'task')) {
      const config = first(task, 'config') ?? {};
      const templates = blocks(task, 'template').map(template);
      tasks.push({
        id: `${groupName}.${taskName}`,
        driver: str(task.driver),
        user: str(task.user),
        command: str(config.command),
        args: Array.isArray(config.args) ? config.args.map(String) : [],
        env: Object.fromEntries(blocks(task, 'env').flatMap((e) => Object.entries(e).map(([k, v]) => [k, String(v)]))),
        templates,
        templateEnv: templates.filter((t) => t.env).flatMap((t) => envLines(t.data).map((l) => ({ ...l, template: t }))),
        vault: first(task, 'vault'),
        resources: first(task, 'resources'),
        ports,
        services: [...groupServices, ...blocks(task, 'service').map(service)],
        group: {
          count: typeof group.count === 'number' ? group.count : undefined,
          update: first(group, 'update') ?? jobUpdate,
          restart: first(group, 'restart'),
          reschedule: first(group, 'reschedule'),
        },
      });
    }
  }
  return { file, name, type: str(job.type), update: jobUpdate, tasks };
}

/**
 * The `KEY=value` lines of an environment-file template. Template actions that open a line
 * (`{{- with secret ... }}`) are skipped; what remains must start with the key.
 */
export function envLines(data: string): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  for (const raw of data.split('\n')) {
    const line = raw.replace(/^\s*(\{\{[^}]*\}\}\s*)*/, '');
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out.push({ name: m[1] as string, value: m[2] as string });
  }
  return out;
}

function service(s: Body): Service {
  return {
    name: str(s.name) ?? '',
    provider: str(s.provider),
    port: str(s.port),
    checks: blocks(s, 'check').map((c) => ({
      name: str(c.name) ?? '',
      type: str(c.type) ?? '',
      path: str(c.path),
      port: str(c.port) ?? str(s.port),
      protocol: str(c.protocol),
    })),
  };
}

function template(t: Body): Template {
  return { data: str(t.data) ?? '', destination: str(t.destination) ?? '', env: t.env === true, perms: str(t.perms), uid: str(t.uid) };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function blocks(parent: Body, key: string): Body[] {
  const v = parent[key];
  return Array.isArray(v) ? (v as Body[]) : [];
}

function first(parent: Body, key: string): Body | undefined {
  return blocks(parent, key)[0];
}

function labelled(parent: Body, key: string): [string, Body][] {
  return Object.entries((parent[key] ?? {}) as Record<string, Body[]>).flatMap(([label, bodies]) =>
    bodies.map((b) => [label, b] as [string, Body]),
  );
}
