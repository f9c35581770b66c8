#!/usr/bin/env node
// One idempotent set-up step for `npm start` and `npm test` on any machine:
//   1. npm packages (when package.json or package-lock.json changed since the last install),
//   2. Debian packages (pebble) when their binaries are missing,
//   3. Go tool binaries from tools/versions.json, built once per machine into a cache outside
//      the checkout and keyed by the pin, so every clone and CI run reuses them,
//   4. the Terraform provider filesystem mirror and the CLI config that uses only it.
// A second run with nothing to do takes well under a second.
// Plain JavaScript on purpose: this runs before TypeScript tooling is installed.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { ensureProtoDeps } from './proto-deps.mjs';
import { cacheRoot, loadPins, repoRoot, terraformPaths, toolBinary, toolDir } from './toolchain.mjs';

const started = Date.now();
const timings = [];

function log(msg) {
  process.stderr.write(`[setup] ${msg}\n`);
}

function step(name, fn) {
  const t0 = Date.now();
  const did = fn();
  const ms = Date.now() - t0;
  timings.push({ name, ms, did });
  if (did) log(`${name}: done in ${(ms / 1000).toFixed(1)}s`);
}

function run(cmd, args, opts = {}) {
  const res = spawnSync(cmd, args, {
    stdio: ['ignore', 'inherit', 'inherit'],
    ...opts,
  });
  if (res.error) throw new Error(`${cmd} ${args.join(' ')} could not start: ${res.error.message}`);
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with exit code ${res.status}`);
}

function onPath(bin) {
  return spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;
}

// A cross-process lock (mkdir is atomic) so two set-ups on one machine never build the same
// tool at once; a lock left by a dead process is taken over.
function withLock(name, fn) {
  const dir = join(cacheRoot(), 'locks', name);
  mkdirSync(join(cacheRoot(), 'locks'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = 0;
      try {
        owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (owner && !isAlive(owner)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      log(`waiting for another set-up (pid ${owner || '?'}) to finish ${name}...`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2000);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

function ensureNpmPackages() {
  const lock = join(repoRoot, 'package-lock.json');
  const stamp = join(repoRoot, 'node_modules', '.hcs-setup-stamp');
  const want = createHash('sha256')
    .update(readFileSync(lock))
    .update(readFileSync(join(repoRoot, 'package.json')))
    .digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === want) return false;
  // npm install, not npm ci: the lock names optional platform packages of @swc/core that the
  // registry we use does not carry, which npm ci treats as an out-of-sync lock. npm install
  // follows the lock for everything it does carry and skips those (none is for this platform).
  log('installing npm packages (npm install from package-lock.json)...');
  run('npm', ['install', '--no-audit', '--no-fund'], { cwd: repoRoot });
  writeFileSync(stamp, want);
  return true;
}

function ensureDebianPackages(pins) {
  const missing = Object.entries(pins.debian).filter(([, p]) => p.binaries.some((b) => !onPath(b)));
  if (missing.length === 0) return false;
  const names = missing.map(([n]) => n);
  const asRoot = process.getuid?.() === 0;
  const sudo = asRoot ? [] : ['sudo', '-n'];
  log(`installing Debian packages: ${names.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args) => (asRoot ? run('apt-get', args, { env }) : run(sudo[0], [...sudo.slice(1), 'apt-get', ...args], { env }));
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...names]);
  return true;
}

function goEnv() {
  return {
    ...process.env,
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=mod -buildvcs=false',
    CGO_ENABLED: '0',
  };
}

// A go.mod for one tool: requires the tool's module and the pinned submodules (a dependency's
// replace directives are ignored by Go, so the pins stand in for them), copies its excludes and
// names the tool's main package with a `tool` directive.
function toolGoMod(name, pin) {
  const goVersion = execFileSync('go', ['env', 'GOVERSION'], { env: goEnv() }).toString().trim().replace(/^go/, '');
  const [maj, min] = goVersion.split('.');
  const req = { [pin.module]: pin.version, ...(pin.require ?? {}) };
  const lines = [
    `// Generated by scripts/setup.mjs from tools/versions.json; do not edit.`,
    `module hcs.internal/tools/${name}`,
    '',
    `go ${maj}.${min}`,
    '',
    `tool ${pin.package}`,
    '',
    'require (',
    ...Object.entries(req).map(([m, v]) => `\t${m} ${v}`),
    ')',
  ];
  if (pin.exclude?.length) lines.push('', 'exclude (', ...pin.exclude.map((e) => `\t${e}`), ')');
  return lines.join('\n') + '\n';
}

function buildGoTool(name, pin) {
  const bin = toolBinary(name);
  if (existsSync(bin)) return false;
  return withLock(`go-${name}`, () => {
    if (existsSync(bin)) return false;
    const dir = toolDir(name, pin);
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(join(tmp, 'bin'), { recursive: true });
    log(`building ${name} ${pin.release ?? pin.version} (first run on this machine; cached afterwards)...`);
    try {
      buildInto(tmp, name, pin);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
    return true;
  });
}

function buildInto(tmp, name, pin) {
  const env = goEnv();
  if (pin.install) {
    // The module's own go.mod has no replace directive: go install builds it as released.
    run('go', ['install', '-trimpath', ...ldflags(name, pin), pin.install], {
      env: { ...env, GOBIN: join(tmp, 'bin') },
    });
  } else {
    const src = join(tmp, 'src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'go.mod'), toolGoMod(name, pin));
    // Seed go.sum with the released module's own go.sum: its dependencies are then verified
    // against the hashes the release was built with, also for versions the checksum database
    // we can reach does not list.
    const info = JSON.parse(execFileSync('go', ['mod', 'download', '-json', `${pin.module}@${pin.version}`], { cwd: src, env }).toString());
    const releasedSum = join(info.Dir, 'go.sum');
    if (existsSync(releasedSum)) writeFileSync(join(src, 'go.sum'), readFileSync(releasedSum));
    // Not `go mod tidy`: it would also resolve the tool's test-only dependencies, some of which
    // the module proxy does not serve. `go build -mod=mod` records exactly what the build needs.
    run('go', ['build', '-trimpath', ...ldflags(name, pin), '-o', join(tmp, 'bin', pin.binary), pin.package], { cwd: src, env });
  }
  writeFileSync(join(tmp, 'pin.json'), JSON.stringify(pin, null, 2));
}

function ldflags(name, pin) {
  if (name === 'temporal') return ['-ldflags', `-X github.com/temporalio/cli/temporalcli.Version=${pin.version}`];
  if (name === 'openbao') return ['-ldflags', `-X github.com/openbao/openbao/version.fullVersion=${pin.release.replace(/^v/, '')}`];
  return [];
}

// Terraform finds the azapi provider only in our filesystem mirror: the CLI config has no
// `direct` installation method, so `terraform init` never contacts a registry.
function ensureTerraformMirror(pins) {
  const tf = terraformPaths(pins);
  const pin = pins.go.azapi;
  const [host, namespace, type] = tf.providerSource.split('/');
  const platform = `${process.platform}_${process.arch === 'x64' ? 'amd64' : process.arch}`;
  const target = join(tf.mirrorDir, host, namespace, type, tf.providerVersion, platform, pin.binary);
  if (existsSync(target) && existsSync(tf.cliConfigFile)) return false;
  mkdirSync(join(target, '..'), { recursive: true });
  copyFileSync(toolBinary('azapi', pins), `${target}.tmp`);
  chmodSync(`${target}.tmp`, 0o755);
  renameSync(`${target}.tmp`, target);
  writeFileSync(
    tf.cliConfigFile,
    [
      '# Generated by scripts/setup.mjs. Providers come only from the local filesystem mirror.',
      'disable_checkpoint = true',
      'provider_installation {',
      '  filesystem_mirror {',
      `    path    = ${JSON.stringify(tf.mirrorDir)}`,
      `    include = [${JSON.stringify(`${host}/*/*`)}]`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return true;
}

function main() {
  const pins = loadPins();
  // `--only=a,b`: build just these Go tools (for a second set-up beside a running one).
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  if (only) {
    const unknown = only.filter((n) => !pins.go[n]);
    if (unknown.length)
      throw new Error(`--only names unknown tools: ${unknown.join(', ')}; tools/versions.json lists: ${Object.keys(pins.go).join(', ')}`);
    for (const name of only) step(`go tool ${name}`, () => buildGoTool(name, pins.go[name]));
    // The mirror needs only these two; the lifecycle tests can start before the other tools exist.
    if (only.includes('terraform') || only.includes('azapi')) step('terraform provider mirror', () => ensureTerraformMirror(pins));
    return;
  }
  if (!process.argv.includes('--tools-only')) step('npm packages', ensureNpmPackages);
  step('Debian packages', () => ensureDebianPackages(pins));
  for (const [name, pin] of Object.entries(pins.go)) step(`go tool ${name}`, () => buildGoTool(name, pin));
  step('terraform provider mirror', () => ensureTerraformMirror(pins));
  step('proto dependencies', () => (ensureProtoDeps(), false));
  const total = Date.now() - started;
  const built = timings.filter((t) => t.did);
  log(
    built.length === 0
      ? `everything already in place (${total} ms)`
      : `set-up finished in ${(total / 1000).toFixed(1)}s: ${built.map((t) => `${t.name} ${(t.ms / 1000).toFixed(0)}s`).join(', ')}`,
  );
}

try {
  main();
} catch (err) {
  log(`FAILED: ${err.message}`);
  process.exit(1);
}
