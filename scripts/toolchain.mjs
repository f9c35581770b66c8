// Where the pinned tool binaries live. Shared by scripts/setup.mjs (which builds them) and by
// the TypeScript service supervisor (which runs them), so both agree on one layout.
// Plain JavaScript on purpose: setup runs before `npm ci` has installed TypeScript tooling.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** @returns {any} the parsed tools/versions.json */
export function loadPins() {
  return JSON.parse(readFileSync(join(repoRoot, 'tools', 'versions.json'), 'utf8'));
}

/** Root of the per-machine tool cache, outside the checkout so clones and CI share it. */
export function cacheRoot() {
  const fromEnv = process.env.HCS_TOOLS_CACHE;
  if (fromEnv) return fromEnv;
  const xdg = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(xdg, 'hcs-tools');
}

/** A tool's cache folder is keyed by its name, version and a hash of its whole pin entry. */
export function toolDir(name, pin) {
  const key = createHash('sha256').update(JSON.stringify(pin)).digest('hex').slice(0, 10);
  const version = String(pin.version).replace(/[^A-Za-z0-9._-]/g, '_');
  return join(cacheRoot(), 'go', `${name}-${version}-${key}`);
}

/** Absolute path of a Go tool's binary. */
export function toolBinary(name, pins = loadPins()) {
  const pin = pins.go[name];
  if (!pin) throw new Error(`unknown tool "${name}"; tools/versions.json lists: ${Object.keys(pins.go).join(', ')}`);
  return join(toolDir(name, pin), 'bin', pin.binary);
}

/** The terraform provider mirror and the CLI config file that points terraform at it (and nowhere else). */
export function terraformPaths(pins = loadPins()) {
  const provider = pins.go.azapi.terraformProvider;
  const key = createHash('sha256').update(JSON.stringify(pins.go.azapi)).digest('hex').slice(0, 10);
  const root = join(cacheRoot(), 'terraform', key);
  return {
    mirrorDir: join(root, 'mirror'),
    cliConfigFile: join(root, 'terraformrc'),
    providerSource: provider.source,
    providerVersion: provider.version,
  };
}

/** Every path the project runs tools from. */
export function toolPaths() {
  const pins = loadPins();
  const consul = {};
  for (const [name, pin] of Object.entries(pins.go)) {
    if (name.startsWith('consul-')) consul[pin.release] = toolBinary(name, pins);
  }
  const consulVersions = Object.keys(consul).sort(compareVersions);
  return {
    temporal: toolBinary('temporal', pins),
    bao: toolBinary('openbao', pins),
    terraform: toolBinary('terraform', pins),
    grpcurl: toolBinary('grpcurl', pins),
    temporalServer: toolBinary('temporal-server', pins),
    temporalSqlTool: toolBinary('temporal-sql-tool', pins),
    prometheus: toolBinary('prometheus', pins),
    promtool: toolBinary('promtool', pins),
    jaeger: toolBinary('jaeger', pins),
    consul,
    consulVersions,
    terraformConfig: terraformPaths(pins),
    pebble: 'pebble',
    challtestsrv: 'pebble-challtestsrv',
    haproxy: 'haproxy',
    chromium: 'chromium',
  };
}

export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
