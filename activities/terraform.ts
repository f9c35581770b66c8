// The Terraform driver: plan and apply (or destroy) one cluster's infrastructure with the real
// terraform CLI. Each run gets a fresh working directory; the state lives in a remote backend
// with locking (PostgreSQL locally and in tests, azurerm in production), one state per cluster
// (a pg workspace, or an azurerm blob). With the pg backend the lock is a PostgreSQL advisory
// lock held by terraform's own session, so a killed terraform can never leave a stale lock
// behind; a re-run refreshes and converges. Terraform runs with a minimal environment
// (terraform-env.ts) in a private folder (terraform-workdirs.ts) copied from one that `terraform
// init` prepared once per module (terraform-init.ts).
import { ApplicationFailure, Context } from '@temporalio/activity';
import { workerFailure, type WorkerErrorType } from '../contract/errors.js';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CLUSTER_ID_TAG, ownedByAnotherCluster, ownership, type Owner } from './cluster-names.js';
import { terraformEnvironment, type TerraformBackend } from './terraform-env.js';
import { alreadyExisting, appliedOutputs, lineSplitter, parseUiLine, stateOutputs, uiText, type UiMessage } from './terraform-output.js';
import { modulePreparer } from './terraform-init.js';
import { sweepRunFolders } from './terraform-workdirs.js';

export type { TerraformBackend } from './terraform-env.js';

export interface TerraformDeps {
  terraformBinary: string;
  /** CLI config that installs providers from our filesystem mirror only. */
  cliConfigFile: string;
  /** Where per-run working directories are made (a private folder on this machine's disk). */
  workRoot: string;
  backend: TerraformBackend;
  /**
   * Extra environment for terraform and its providers (e.g. SSL_CERT_FILE for the twin's CA);
   * of the worker's own environment terraform gets only the allow-list in terraform-env.ts.
   */
  env?: Record<string, string>;
  /**
   * How long terraform keeps trying for the state lock (default 10 s). The pg backend takes a
   * shared creation lock for an instant whenever any workspace is locked, so runs of different
   * clusters starting together collide briefly; a run of the same cluster holds the lock for
   * its whole apply and is still refused as TerraformStateLocked.
   */
  lockTimeoutSeconds?: number;
}

export interface TerraformRunInput {
  /** The cluster's state name (from its random id: stable, short, free of characters backends dislike). */
  state: string;
  /**
   * The cluster the state and its resources belong to: a state holding resources tagged for
   * another cluster, or a resource to adopt that is tagged for another cluster, is refused.
   */
  owner: Owner;
  /** Folder copied into the working directory (the root module, or a tree holding it). */
  moduleDir: string;
  /** The root module's folder inside moduleDir, when it refers to modules beside it. */
  rootSubdir?: string;
  /** Values for the module's variables; never secrets (they would land in the state). */
  variables: Record<string, unknown>;
}

export interface TerraformApplyResult {
  /** False when the plan found nothing to do. */
  changed: boolean;
  outputs: Record<string, unknown>;
}

/** Another run holds the cluster's state lock; retry later. */
export const STATE_LOCKED: WorkerErrorType = 'TerraformStateLocked';
/** Terraform refused the configuration or the inputs: retrying cannot help. */
export const TERRAFORM_INVALID: WorkerErrorType = 'TerraformConfigurationInvalid';

export function createTerraformActivities(deps: TerraformDeps) {
  const lockTimeout = deps.lockTimeoutSeconds ?? 10;
  /**
   * A few quick tries: the pg backend creates its schema, table and a new workspace's row on
   * first use, under a single creation lock; runs for other clusters starting at the same moment
   * can collide there. Those collisions are over as soon as the other run's creation is (a real
   * failure still fails on the last try).
   */
  async function settling(what: () => Promise<unknown>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await what();
        return;
      } catch (err) {
        if (attempt >= 4 || (err instanceof ApplicationFailure && err.nonRetryable)) throw err;
        await new Promise((r) => setTimeout(r, 500 * attempt));
      }
    }
  }

  // `terraform init` once per module and backend in this process (terraform-init.ts).
  const modules = modulePreparer({
    workRoot: deps.workRoot,
    init: (dir) => settling(() => run(dir, ['init', '-input=false', '-no-color', '-reconfigure'], 'init')),
  });

  async function workspace(input: TerraformRunInput): Promise<{ dir: string; cleanup: () => void }> {
    if (deps.backend.kind === 'local') mkdirSync(deps.backend.dir, { recursive: true, mode: 0o700 });
    const { dir, remove } = await modules.runFolder({
      moduleDir: input.moduleDir,
      rootSubdir: input.rootSubdir,
      state: input.state,
      backendBlock: backendBlock(deps.backend, input.state),
      shared: deps.backend.kind !== 'local',
    });
    // Whatever fails before the run starts takes its folder with it.
    try {
      writeFileSync(join(dir, 'terraform.tfvars.json'), JSON.stringify(input.variables, null, 2));
      if (deps.backend.kind === 'pg') {
        // One workspace per cluster in one schema: the pg backend locks a state by its row id,
        // and row ids are unique only within a schema (a schema per cluster would make every
        // cluster's first state lock id 1, so different clusters would block each other).
        await settling(() => run(dir, ['workspace', 'select', '-or-create=true', '-no-color', input.state], 'init'));
      }
      return { dir, cleanup: remove };
    } catch (err) {
      remove();
      throw err;
    }
  }

  /**
   * Runs terraform, streaming each output line to the activity's heartbeat and log; `quiet`
   * keeps standard output (a whole state or plan as JSON) out of both, and out of errors. With
   * `json` (a command run with -json) standard output is the machine-readable UI: each message
   * is shown as the human UI's text, and the messages are returned.
   */
  function run(
    dir: string,
    args: string[],
    phase: string,
    o: { quiet?: boolean; json?: boolean } = {},
  ): Promise<{ code: number; out: string; messages: UiMessage[] }> {
    return new Promise((resolve, reject) => {
      const child = spawn(deps.terraformBinary, args, {
        cwd: dir,
        env: terraformEnvironment({ backend: deps.backend, cliConfigFile: deps.cliConfigFile, extra: deps.env, from: process.env }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const ctx = activityContext();
      const started = Date.now();
      // A cancelled activity stops terraform gracefully (it releases its lock on SIGINT).
      const onCancel = () => child.kill('SIGINT');
      ctx?.cancellationSignal.addEventListener('abort', onCancel);
      let out = '';
      let shown = '';
      let last = 0;
      const messages: UiMessage[] = [];
      const show = (text: string) => {
        shown += text;
        for (const line of text.split('\n').filter((l) => l.trim())) {
          ctx?.log.info('terraform', { phase, line });
          const now = Date.now();
          if (now - last > 1_000) {
            ctx?.heartbeat({ phase, line });
            last = now;
          }
        }
      };
      const ui = lineSplitter();
      const showMessages = (lines: string[]) => {
        for (const line of lines.filter((l) => l.trim())) {
          const message = parseUiLine(line);
          messages.push(message);
          show(`${uiText(message)}\n`);
        }
      };
      child.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString('utf8');
        out += text;
        if (o.json) showMessages(ui.push(text));
        else if (!o.quiet) show(text);
      });
      child.stderr.on('data', (chunk: Buffer) => show(chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', (code) => {
        if (o.json) showMessages(ui.end());
        ctx?.cancellationSignal.removeEventListener('abort', onCancel);
        // How long each terraform command took (bench:create reads the apply's).
        ctx?.log.info('terraform command ended', { phase, command: args[0], code, ms: Date.now() - started });
        if (ctx?.cancellationSignal.aborted)
          return reject(
            ctx.cancellationSignal.reason instanceof Error ? ctx.cancellationSignal.reason : new Error(`terraform ${phase} cancelled`),
          );
        if (code !== 0 && !(phase === 'plan' && code === 2))
          // The whole output stays with the error in this process (the failure itself carries the tail).
          return reject(Object.assign(terraformFailure(phase, code, shown), { output: shown }));
        resolve({ code: code ?? 1, out, messages });
      });
    });
  }

  /** The raw state (`terraform state pull`); null when there is none yet. */
  async function pullState(dir: string): Promise<unknown> {
    const { out } = await run(dir, ['state', 'pull'], 'state', { quiet: true });
    return out.trim() ? (JSON.parse(out) as unknown) : null;
  }

  /**
   * Applies the saved plan. A terraform that died mid-apply (its worker killed, the machine
   * gone) can leave resources created in the cloud but not yet written to the state; the next
   * apply then meets "Resource already exists". Those resources are ours by their deterministic
   * ids: they are adopted with `import` blocks (planned with the rest of the configuration,
   * unlike `terraform import`, which cannot evaluate for_each over values not yet known) and
   * the apply is planned again, so a crash at any moment converges instead of failing forever.
   * Only the cluster's own resources are adopted: one tagged with another cluster's id is
   * refused and nothing is applied (DerivedNameOwnedByAnotherCluster).
   */
  async function applyAdopting(dir: string, owner: Owner): Promise<Record<string, unknown> | undefined> {
    const adopted: Array<{ to: string; id: string }> = [];
    for (let round = 1; ; round++) {
      try {
        const { messages } = await run(
          dir,
          ['apply', '-json', '-input=false', '-no-color', `-lock-timeout=${lockTimeout}s`, 'run.tfplan'],
          'apply',
          { json: true },
        );
        return appliedOutputs(messages);
      } catch (err) {
        const orphans = round <= 3 ? alreadyExisting((err as { output?: string }).output ?? '') : [];
        if (orphans.length === 0) throw err;
        for (const o of orphans) {
          activityContext()?.log.warn(
            'terraform: a resource exists that the state lacks (a killed run?); adopting it unless another cluster owns it',
            {
              address: o.address,
              id: o.id,
            },
          );
          adopted.push({ to: o.address, id: o.id });
        }
        writeFileSync(join(dir, '_adopt.tf.json'), JSON.stringify({ import: adopted }, null, 2));
        await run(
          dir,
          ['plan', '-input=false', '-no-color', `-lock-timeout=${lockTimeout}s`, '-detailed-exitcode', '-out=run.tfplan'],
          'plan',
        );
        const { out } = await run(dir, ['show', '-json', '-no-color', 'run.tfplan'], 'plan', { quiet: true });
        const foreign = foreignImports(JSON.parse(out), owner);
        if (foreign.length) throw ownedByAnotherCluster(`the existing resource ${foreign[0]}`);
      }
    }
  }

  return {
    /**
     * Removes the run folders under the work root that no running process owns (what a killed
     * worker left behind); the worker calls it when it starts. Returns their names.
     */
    sweepWorkRoot: (): string[] => sweepRunFolders(deps.workRoot),

    /** Plans and, when anything differs, applies the saved plan; returns the module's outputs. Idempotent. */
    terraformApply: async (input: TerraformRunInput): Promise<TerraformApplyResult> => {
      const { dir, cleanup } = await workspace(input);
      try {
        // The state's owner is checked while the plan is made (the plan only reads; nothing is
        // applied before the check has passed), and a foreign state is reported before whatever
        // the plan made of it.
        const [pulled, planned] = await Promise.allSettled([
          pullState(dir),
          run(dir, ['plan', '-input=false', '-no-color', `-lock-timeout=${lockTimeout}s`, '-detailed-exitcode', '-out=run.tfplan'], 'plan'),
        ]);
        if (pulled.status === 'rejected') throw pulled.reason;
        const foreign = pulled.value ? foreignStateResources(pulled.value, input.owner) : [];
        if (foreign.length)
          throw ownedByAnotherCluster(
            `the Terraform state ${input.state} (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', ...' : ''})`,
          );
        if (planned.status === 'rejected') throw planned.reason;
        const changed = planned.value.code === 2;
        if (!changed) return { changed, outputs: stateOutputs(pulled.value) };
        // The apply's own outputs message; `terraform output` only when it withheld a value.
        const applied = await applyAdopting(dir, input.owner);
        if (applied) return { changed, outputs: applied };
        const { out } = await run(dir, ['output', '-no-color', '-json'], 'output');
        return { changed, outputs: stateOutputs({ outputs: JSON.parse(out) as unknown }) };
      } finally {
        cleanup();
      }
    },

    /**
     * Destroys everything in the cluster's state; a second call finds nothing to do. With
     * deleteState the (then empty) state itself goes too, so a deleted cluster leaves nothing. A
     * state holding another cluster's resources is left as it is ('foreign').
     */
    terraformDestroy: async (input: TerraformRunInput & { deleteState?: boolean }): Promise<'destroyed' | 'foreign'> => {
      const { dir, cleanup } = await workspace(input);
      try {
        const state = await pullState(dir);
        if (state && foreignStateResources(state, input.owner).length) {
          activityContext()?.log.warn('terraform: the state holds resources of another cluster; leaving it alone', { state: input.state });
          return 'foreign';
        }
        await run(dir, ['destroy', '-auto-approve', '-input=false', '-no-color', `-lock-timeout=${lockTimeout}s`], 'destroy');
        if (input.deleteState && deps.backend.kind === 'pg') {
          await run(dir, ['workspace', 'select', '-no-color', 'default'], 'destroy');
          await run(dir, ['workspace', 'delete', '-no-color', `-lock-timeout=${lockTimeout}s`, input.state], 'destroy');
        }
        if (input.deleteState && deps.backend.kind === 'local') {
          const file = join(deps.backend.dir, `${input.state}.tfstate`);
          for (const f of [file, `${file}.backup`]) rmSync(f, { force: true });
        }
        return 'destroyed';
      } finally {
        cleanup();
      }
    },
  };
}

export type TerraformActivities = ReturnType<typeof createTerraformActivities>;

/** The pg backend's schema; each cluster is a workspace in it. */
export const PG_STATE_SCHEMA = 'hcs_terraform_state';

function backendBlock(b: TerraformBackend, state: string) {
  // The connection string reaches terraform as PG_CONN_STR (terraform-env.ts), never in a file.
  if (b.kind === 'pg') return { terraform: { backend: { pg: { schema_name: PG_STATE_SCHEMA } } } };
  if (b.kind === 'local') return { terraform: { backend: { local: { path: join(b.dir, `${state}.tfstate`) } } } };
  return {
    terraform: {
      backend: {
        azurerm: {
          storage_account_name: b.storageAccountName,
          container_name: b.containerName,
          resource_group_name: b.resourceGroupName,
          key: `${state}.tfstate`,
          use_azuread_auth: true,
        },
      },
    },
  };
}

function terraformFailure(phase: string, code: number | null, out: string): ApplicationFailure {
  const tail = out
    .split('\n')
    .filter((l) => l.trim())
    .slice(-15)
    .join('\n');
  if (/Error acquiring the state lock/i.test(out)) {
    return workerFailure(STATE_LOCKED, `terraform ${phase}: the cluster's state is locked by another run`, tail);
  }
  if (/Error: (Invalid|Unsupported|Missing required|Reference to undeclared)|validation rule/i.test(out)) {
    return workerFailure(TERRAFORM_INVALID, `terraform ${phase} refused the configuration (exit ${code})`, tail);
  }
  return workerFailure('TerraformFailed', `terraform ${phase} failed (exit ${code})`, tail);
}

function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

const tagsOf = (values: unknown): Record<string, unknown> | undefined =>
  (values as { tags?: Record<string, unknown> | null } | null | undefined)?.tags ?? undefined;

/** Addresses of managed resources in a raw state (`terraform state pull`) tagged with another cluster's id. */
export function foreignStateResources(state: unknown, owner: Owner): string[] {
  const s = state as {
    resources?: Array<{ mode: string; module?: string; type: string; name: string; instances?: Array<{ attributes?: unknown }> }>;
  };
  const foreign: string[] = [];
  for (const r of s.resources ?? []) {
    if (r.mode !== 'managed') continue;
    for (const i of r.instances ?? []) {
      const id = tagsOf(i.attributes)?.[CLUSTER_ID_TAG];
      if (typeof id === 'string' && id !== owner.clusterId) foreign.push(`${r.module ? `${r.module}.` : ''}${r.type}.${r.name}`);
    }
  }
  return [...new Set(foreign)];
}

/** Cloud ids of the resources a plan (`terraform show -json`) would import that are tagged with another cluster's id. */
export function foreignImports(plan: unknown, owner: Owner): string[] {
  const p = plan as { resource_changes?: Array<{ address: string; change: { importing?: { id?: string }; before?: unknown } }> };
  const out: string[] = [];
  for (const rc of p.resource_changes ?? []) {
    if (!rc.change.importing) continue;
    const found = tagsOf(rc.change.before)?.[CLUSTER_ID_TAG];
    if (ownership(typeof found === 'string' ? found : null, owner) === 'foreign') out.push(rc.change.importing.id ?? rc.address);
  }
  return out;
}
