// `terraform init` once per module and shared backend in a worker process, not once per run. The first
// run of a module initialises a prepared folder (the module, its backend block, and what init
// makes: `.terraform` with the provider linked from our filesystem mirror or the plugin cache, and
// the dependency lock file); every run then starts from a copy of it (symbolic links kept as
// links), so a run pays for copying a few small files instead of init's backend set-up and
// provider installation. The prepared folder is keyed by the module's content, the root
// folder inside it and the backend block: a changed module gets a new one (the old one goes).
// It is a run folder of this process (terraform-workdirs.ts), so the sweep at worker start
// removes what a killed worker left, and it is private like every run folder.
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { makeRunFolder } from './terraform-workdirs.js';

export interface PreparedRun {
  /** The run folder (removed by `remove`). */
  top: string;
  /** The root module's folder in it, where terraform runs. */
  dir: string;
  remove: () => void;
}

export interface ModulePreparer {
  /**
   * A new run folder for `state`, initialised. `shared`: the backend block is the same for every
   * state (pg, azurerm), so one prepared folder serves them all; otherwise (a local state file
   * per cluster) init runs in the run folder itself.
   */
  runFolder(a: {
    moduleDir: string;
    rootSubdir?: string | undefined;
    state: string;
    backendBlock: unknown;
    shared: boolean;
  }): Promise<PreparedRun>;
}

/** What is copied from a module folder: not state or what a local init left there. */
const copied = (src: string) => !src.includes('.terraform') && !src.endsWith('.tfstate') && !src.endsWith('.tfstate.backup');

/** A digest of every file the run would copy from `moduleDir`, with its path. */
function moduleDigest(moduleDir: string): string {
  const h = createHash('sha256');
  const files = readdirSync(moduleDir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && copied(join(e.parentPath, e.name)))
    .map((e) => join(e.parentPath, e.name))
    .sort();
  for (const f of files) h.update(relative(moduleDir, f)).update('\0').update(readFileSync(f)).update('\0');
  return h.digest('hex');
}

/**
 * `init(dir)` runs terraform init (and whatever it needs) in a prepared root module folder;
 * `workRoot` holds the prepared folders beside the runs.
 */
export function modulePreparer(o: { workRoot: string; init: (dir: string) => Promise<void> }): ModulePreparer {
  const prepared = new Map<string, Promise<{ top: string; rootSubdir: string; remove: () => void }>>();
  /** The key of the prepared folder in use per module folder (a changed module replaces it). */
  const current = new Map<string, string>();

  function prepare(moduleDir: string, rootSubdir: string, backendBlock: unknown): Promise<{ top: string; rootSubdir: string }> {
    const key = createHash('sha256')
      .update(moduleDigest(moduleDir))
      .update(`\0${rootSubdir}\0${JSON.stringify(backendBlock)}`)
      .digest('hex')
      .slice(0, 16);
    const previous = current.get(`${moduleDir}\0${rootSubdir}`);
    if (previous && previous !== key) {
      const old = prepared.get(previous);
      prepared.delete(previous);
      void old?.then((p) => p.remove()).catch(() => {});
    }
    current.set(`${moduleDir}\0${rootSubdir}`, key);
    let made = prepared.get(key);
    if (!made) {
      made = (async () => {
        const { path: top, remove } = makeRunFolder(o.workRoot, `init-${key}`);
        try {
          cpSync(moduleDir, top, { recursive: true, filter: copied });
          const dir = join(top, rootSubdir);
          writeFileSync(join(dir, '_backend.tf.json'), JSON.stringify(backendBlock, null, 2));
          await o.init(dir);
          return { top, rootSubdir, remove };
        } catch (err) {
          remove();
          throw err;
        }
      })();
      // A failed init is not kept: the next run tries again.
      made.catch(() => prepared.delete(key));
      prepared.set(key, made);
    }
    return made;
  }

  return {
    async runFolder(a) {
      const template = a.shared ? await prepare(a.moduleDir, a.rootSubdir ?? '', a.backendBlock) : undefined;
      const { path: top, remove } = makeRunFolder(o.workRoot, a.state);
      try {
        if (template) {
          cpSync(template.top, top, { recursive: true, verbatimSymlinks: true });
          return { top, dir: join(top, template.rootSubdir), remove };
        }
        cpSync(a.moduleDir, top, { recursive: true, filter: copied });
        const dir = join(top, a.rootSubdir ?? '');
        writeFileSync(join(dir, '_backend.tf.json'), JSON.stringify(a.backendBlock, null, 2));
        await o.init(dir);
        return { top, dir, remove };
      } catch (err) {
        remove();
        throw err;
      }
    },
  };
}
