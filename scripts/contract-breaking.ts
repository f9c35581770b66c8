// Breaking-change check of the API contract, part of `npm run lint`: `buf breaking` (the FILE
// rules of buf.yaml) of proto/ as it is in the working tree against proto/ at the previous commit,
// so a change that would break generated clients (a renamed or renumbered field, a removed RPC,
// a changed type) fails lint. The base is HCS_CONTRACT_BASE (any git revision, e.g. origin/main)
// or HEAD~1. Without a previous commit:
// - HEAD is the repository's first commit: there is no earlier contract; it says so and passes;
// - the clone is shallow: it fetches one more commit (`git fetch --deepen=1`); if that fails it
//   fails, saying how to get the base.
//   npx tsx scripts/contract-breaking.ts
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureProtoDeps } from './proto-deps.mjs';
import { repoRoot as toolRoot } from './toolchain.mjs';

const PREFIX = 'contract-breaking:';

function git(cwd: string, args: string[], input?: Buffer): SpawnSyncReturns<Buffer> {
  return spawnSync('git', args, { cwd, ...(input ? { input } : {}), maxBuffer: 256 * 1024 * 1024 });
}
const out = (r: SpawnSyncReturns<Buffer>) => r.stdout.toString().trim();
const fail = (message: string): never => {
  console.error(`${PREFIX} ${message}`);
  process.exit(1);
};

function resolve(root: string, rev: string): string | undefined {
  const r = git(root, ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]);
  return r.status === 0 ? out(r) : undefined;
}

/** The base commit, or undefined when HEAD is the first commit (nothing to compare against). */
function baseCommit(root: string, base: string): string | undefined {
  const found = resolve(root, base);
  if (found) return found;
  const shallow = out(git(root, ['rev-parse', '--is-shallow-repository'])) === 'true';
  if (shallow) {
    console.log(`${PREFIX} ${base} is not in this shallow clone; fetching one more commit (git fetch --deepen=1)`);
    const fetched = git(root, ['fetch', '--quiet', '--deepen=1']);
    const again = fetched.status === 0 ? resolve(root, base) : undefined;
    if (again) return again;
    return fail(
      `${base} is not in this shallow clone and could not be fetched (${fetched.stderr.toString().trim() || 'not found after deepening'}). ` +
        'Clone with at least two commits (git clone --depth 2, or git fetch --deepen=1), or name a base that is present in HCS_CONTRACT_BASE.',
    );
  }
  if (base === 'HEAD~1' && out(git(root, ['rev-list', '--parents', '-n', '1', 'HEAD'])).split(' ').length === 1) return undefined;
  return fail(`the base revision ${base} does not exist in this repository (HCS_CONTRACT_BASE names any git revision).`);
}

function main(): void {
  const top = git(process.cwd(), ['rev-parse', '--show-toplevel']);
  if (top.status !== 0) fail('not inside a git repository: the check compares proto/ with an earlier commit.');
  const root = out(top);
  const base = process.env.HCS_CONTRACT_BASE || 'HEAD~1';
  const commit = baseCommit(root, base);
  if (commit === undefined) {
    console.log(`${PREFIX} HEAD is the first commit of this repository: there is no earlier contract to compare against; nothing checked.`);
    return;
  }
  const short = commit.slice(0, 12);
  if (git(root, ['cat-file', '-e', `${commit}:proto`]).status !== 0) {
    console.log(`${PREFIX} ${base} (${short}) has no proto/: there is no earlier contract to compare against; nothing checked.`);
    return;
  }
  const deps = ensureProtoDeps();
  const against = mkdtempSync(join(tmpdir(), 'hcs-contract-base-'));
  try {
    const tar = git(root, ['archive', '--format=tar', commit, '--', 'proto', 'buf.yaml']);
    if (tar.status !== 0) fail(`git archive of ${short} failed: ${tar.stderr.toString().trim()}`);
    const untar = spawnSync('tar', ['-x', '-C', against], { input: tar.stdout });
    if (untar.status !== 0) fail(`unpacking ${short} failed: ${untar.stderr.toString().trim()}`);
    // The googleapis imports are not in git (scripts/proto-deps.mjs): the same files for both sides.
    cpSync(deps, join(against, 'node_modules', '.hcs-proto-deps'), { recursive: true });
    const buf = join(toolRoot, 'node_modules', '.bin', 'buf');
    if (!existsSync(buf)) fail(`${buf} is missing: run npm install.`);
    const r = spawnSync(buf, ['breaking', '--against', against], { cwd: root, encoding: 'utf8' });
    if (r.status !== 0) {
      process.stderr.write(r.stdout + r.stderr);
      fail(
        `proto/ breaks the contract of ${base} (${short}): generated clients of that contract would break. ` +
          'Keep field names, numbers and types and add rather than change; a deliberate break needs a new API version.',
      );
    }
    console.log(`${PREFIX} proto/ keeps the contract of ${base} (${short}) (buf breaking, FILE rules).`);
  } finally {
    rmSync(against, { recursive: true, force: true });
  }
}

main();
