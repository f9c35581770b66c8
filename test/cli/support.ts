// Running the `hcs` CLI as its users do: the binary as a child process with nothing of the test's
// environment but PATH (HOME and the configuration folder are the test's own scratch folders), its
// settings and credentials from flags, variables or files as each test chooses.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../scripts/toolchain.mjs';
import type { ControlPlane } from '../api/harness.js';

/** The launcher package.json names as the `hcs` bin. */
export const HCS_BIN = join(
  repoRoot,
  (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { bin: { hcs: string } }).bin.hcs,
);

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI (the repository's launcher, or `bin` when given: an installed `hcs`) to its end. */
export function hcs(args: string[], env: Record<string, string>, bin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = bin
      ? spawn(bin, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, [HCS_BIN, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** A user's environment for the control plane: endpoint, its CA, subscription and resource group; HOME and the config folder in `dir`. */
export function userEnv(cp: ControlPlane, dir: string, o: { subscription: string; resourceGroup: string }): Record<string, string> {
  mkdirSync(join(dir, 'home'), { recursive: true });
  const caFile = join(dir, 'api-ca.pem');
  writeFileSync(caFile, cp.caCertPem);
  return {
    HOME: join(dir, 'home'),
    HCS_CONFIG_DIR: join(dir, 'config'),
    HCS_ENDPOINT: cp.api.restUrl,
    HCS_CA_FILE: caFile,
    HCS_SUBSCRIPTION: o.subscription,
    HCS_RESOURCE_GROUP: o.resourceGroup,
  };
}

/** Writes a token file of mode 600 (or `mode`) and returns its path. */
export function tokenFile(dir: string, name: string, token: string, mode = 0o600): string {
  const file = join(dir, name);
  writeFileSync(file, `${token}\n`);
  chmodSync(file, mode);
  return file;
}

/** A failed run's output, for assertion messages. */
export const shown = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
