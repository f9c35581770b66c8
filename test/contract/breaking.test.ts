// Issue 16, item 5: `npm run lint` runs scripts/contract-breaking.ts, which compares proto/ with
// the previous commit's by `buf breaking`. It passes the current tree, fails a temporary
// repository whose contract renames a field (before and after committing it), says so and
// passes when there is no earlier commit at all, fetches the previous commit into a shallow
// clone, and fails with a clear message when a shallow clone cannot get it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const script = join(repoRoot, 'scripts', 'contract-breaking.ts');
const tsx = join(repoRoot, 'node_modules', '.bin', 'tsx');
const temps: string[] = [];
afterAll(() => {
  for (const t of temps) rmSync(t, { recursive: true, force: true });
});

function check(cwd: string, env: Record<string, string> = {}): { status: number | null; output: string } {
  const r = spawnSync(tsx, [script], { cwd, encoding: 'utf8', env: { ...process.env, HCS_CONTRACT_BASE: '', ...env } });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', ['-c', 'user.name=test', '-c', 'user.email=test@example.test', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A new repository holding a copy of the contract (proto/, buf.yaml; node_modules linked for the googleapis imports), committed once. */
function contractRepo(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-contract-repo-'));
  temps.push(dir);
  cpSync(join(repoRoot, 'proto'), join(dir, 'proto'), { recursive: true });
  cpSync(join(repoRoot, 'buf.yaml'), join(dir, 'buf.yaml'));
  symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, '.gitignore'), 'node_modules\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '.');
  git(dir, 'commit', '-q', '-m', 'contract');
  return dir;
}

const NETWORK = join('proto', 'hcs', 'consul', 'v1', 'cluster.proto');
function renameCidr(dir: string): void {
  const file = join(dir, NETWORK);
  const text = readFileSync(file, 'utf8');
  expect(text).toMatch(/string cidr = 1;/);
  writeFileSync(file, text.replace('string cidr = 1;', 'string cidr_block = 1;'));
}

describe('the breaking-change check of the contract', () => {
  it('passes the current tree against the previous commit', () => {
    const r = check(repoRoot);
    expect(r.output).toMatch(/proto\/ keeps the contract of HEAD~1/);
    expect(r.status).toBe(0);
  });

  it('fails a renamed field, in the working tree and once committed, naming it; passes a compatible addition', () => {
    const dir = contractRepo();
    // A second commit that only adds a message: compatible.
    const file = join(dir, NETWORK);
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n// Added later.\nmessage Addition {\n  // A field.\n  string note = 1;\n}\n`);
    git(dir, 'commit', '-q', '-am', 'an addition');
    const compatible = check(dir);
    expect(compatible.output).toMatch(/keeps the contract of HEAD~1/);
    expect(compatible.status).toBe(0);

    renameCidr(dir);
    const uncommitted = check(dir);
    expect(uncommitted.status).toBe(1);
    expect(uncommitted.output).toMatch(/changed name from "cidr" to "cidr_block"/);
    expect(uncommitted.output).toMatch(/proto\/ breaks the contract of HEAD~1/);

    git(dir, 'commit', '-q', '-am', 'rename');
    const committed = check(dir);
    expect(committed.status).toBe(1);
    expect(committed.output).toMatch(/changed name from "cidr" to "cidr_block"/);
    // Against a base named in HCS_CONTRACT_BASE: the first commit.
    const first = git(dir, 'rev-list', '--max-parents=0', 'HEAD');
    expect(check(dir, { HCS_CONTRACT_BASE: first }).status).toBe(1);
    const unknown = check(dir, { HCS_CONTRACT_BASE: 'no-such-branch' });
    expect(unknown.status).toBe(1);
    expect(unknown.output).toMatch(/the base revision no-such-branch does not exist/);
  });

  it('says there is nothing to compare against in a repository of one commit, and passes', () => {
    const dir = contractRepo();
    renameCidr(dir);
    const r = check(dir);
    expect(r.output).toMatch(
      /HEAD is the first commit of this repository: there is no earlier contract to compare against; nothing checked/,
    );
    expect(r.status).toBe(0);
  });

  it('fetches the previous commit into a shallow clone; fails clearly when it cannot', () => {
    const origin = contractRepo();
    renameCidr(origin);
    git(origin, 'commit', '-q', '-am', 'rename');
    const clone = mkdtempSync(join(tmpdir(), 'hcs-contract-clone-'));
    temps.push(clone);
    git(clone, 'clone', '-q', '--depth', '1', `file://${origin}`, 'repo');
    const repo = join(clone, 'repo');
    symlinkSync(join(repoRoot, 'node_modules'), join(repo, 'node_modules'));
    const deepened = check(repo);
    expect(deepened.output).toMatch(/HEAD~1 is not in this shallow clone; fetching one more commit/);
    expect(deepened.output).toMatch(/changed name from "cidr" to "cidr_block"/);
    expect(deepened.status).toBe(1);

    git(clone, 'clone', '-q', '--depth', '1', `file://${origin}`, 'cut-off');
    const cutOff = join(clone, 'cut-off');
    symlinkSync(join(repoRoot, 'node_modules'), join(cutOff, 'node_modules'));
    git(cutOff, 'remote', 'set-url', 'origin', join(clone, 'gone'));
    const r = check(cutOff);
    expect(r.status).toBe(1);
    expect(r.output).toMatch(/HEAD~1 is not in this shallow clone and could not be fetched/);
    expect(r.output).toMatch(/git clone --depth 2/);
  });
});
