// `npm run build`: the production processes as plain JavaScript, run with `node` (never tsx).
// TypeScript compiles what tsconfig.build.json names into the output folder (default dist/),
// keeping the source layout, so `node dist/apps/control-plane/src/api-main.js` works; then the
// files the processes read at run time are copied beside the code that reads them:
//   store/migrations/*.sql   (store/migrate.ts reads the folder next to itself)
//   gen/openapi/*.json       (the REST server serves the generated OpenAPI document)
//   terraform/**/*.tf        (the Terraform roots and module the worker applies; HCS_LIFECYCLE
//                             terraform.moduleDir may point at the output's terraform/ folder)
// The output folder is emptied first, so nothing stale survives a build.
// Usage: node scripts/build.mjs [--out-dir <folder>]   (npm run build -- --out-dir <folder>)
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { repoRoot } from './toolchain.mjs';

/** Runtime assets: [source folder, which files] relative to the repository root. */
const RUNTIME_ASSETS = [
  ['store/migrations', (name) => name.endsWith('.sql')],
  ['gen/openapi', (name) => name.endsWith('.json')],
  ['terraform', (name) => name.endsWith('.tf')],
];

function parseArgs(argv) {
  let outDir = join(repoRoot, 'dist');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out-dir' && argv[i + 1]) outDir = resolve(argv[++i]);
    else throw new Error(`build: unknown argument "${argv[i]}" (usage: node scripts/build.mjs [--out-dir <folder>])`);
  }
  if (resolve(outDir) === resolve(repoRoot)) throw new Error('build: the output folder cannot be the repository itself');
  return { outDir };
}

/** Copies the files of `dir` (recursively) that `keep` accepts, skipping Terraform's own working folders. */
function copyAssets(from, to, keep) {
  if (!existsSync(from)) throw new Error(`build: runtime asset folder ${from} is missing`);
  let copied = 0;
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (entry.name === '.terraform') continue;
    const src = join(from, entry.name);
    if (entry.isDirectory()) copied += copyAssets(src, join(to, entry.name), keep);
    else if (entry.isFile() && keep(entry.name)) {
      mkdirSync(to, { recursive: true });
      cpSync(src, join(to, entry.name));
      copied++;
    }
  }
  return copied;
}

function build({ outDir }) {
  const started = Date.now();
  rmSync(outDir, { recursive: true, force: true });
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', outDir], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
  } catch {
    // tsc printed the errors above; a build with type errors is no build.
    rmSync(outDir, { recursive: true, force: true });
    throw new Error('build: the TypeScript compiler reported errors (above); nothing was built');
  }
  const counts = RUNTIME_ASSETS.map(([dir, keep]) => {
    const n = copyAssets(join(repoRoot, dir), join(outDir, dir), keep);
    if (n === 0) throw new Error(`build: no runtime assets found in ${dir}`);
    return `${dir} (${n})`;
  });
  // The output is an ES module tree on its own too (a deployment may copy it without the root package.json).
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ type: 'module', private: true }, null, 2)}\n`);
  console.log(`build: ${basename(outDir)}/ written in ${((Date.now() - started) / 1000).toFixed(1)} s; assets: ${counts.join(', ')}`);
}

try {
  build(parseArgs(process.argv.slice(2)));
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
