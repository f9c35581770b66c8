import { execFile } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, inject, it } from 'vitest';

const stack = inject('stack');
const run = promisify(execFile);
const work = mkdtempSync(join(tmpdir(), 'hcs-tf-smoke-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Any network use would go through this proxy, which refuses every connection: a command that
// succeeds under it did not need the network.
const offlineEnv = {
  ...process.env,
  TF_CLI_CONFIG_FILE: stack.tools.terraformConfig.cliConfigFile,
  CHECKPOINT_DISABLE: '1',
  TF_IN_AUTOMATION: '1',
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  NO_PROXY: '',
};

function fixture(name: string): string {
  const dir = join(work, name);
  cpSync(fileURLToPath(new URL(`./terraform-fixtures/${name}`, import.meta.url)), dir, { recursive: true });
  return dir;
}

const tf = (cwd: string, ...args: string[]) => run(stack.tools.terraform, args, { cwd, env: offlineEnv });

it('applies a terraform_data module with no network', async () => {
  const dir = fixture('data');
  await tf(dir, 'init', '-input=false', '-no-color');
  await tf(dir, 'apply', '-auto-approve', '-input=false', '-no-color', '-var', 'name=smoke', '-var', 'servers=5');
  const out = JSON.parse((await tf(dir, 'output', '-json')).stdout) as { zones: { value: number[] } };
  expect(out.zones.value).toEqual([1, 2, 3, 1, 2]);
  // Same inputs again: nothing to change (exit code 0 from -detailed-exitcode).
  await tf(dir, 'plan', '-detailed-exitcode', '-input=false', '-no-color', '-var', 'name=smoke', '-var', 'servers=5');
});

it('installs azapi from the filesystem mirror and `terraform providers` shows it', async () => {
  const dir = fixture('azapi');
  const init = await tf(dir, 'init', '-input=false', '-no-color');
  const { providerSource, providerVersion, mirrorDir } = stack.tools.terraformConfig;
  expect(init.stdout).toContain(`Installing ${providerSource} v${providerVersion}`);
  const providers = await tf(dir, 'providers', '-no-color');
  expect(providers.stdout).toContain(`provider[${providerSource}] ${providerVersion}`);
  // The installed plugin is the mirror's binary (terraform links unpacked mirrors in place).
  const installed = join(dir, '.terraform', 'providers', providerSource, providerVersion, 'linux_amd64');
  expect(lstatSync(installed).isSymbolicLink() ? realpathSync(installed) : installed).toContain(realpathSync(mirrorDir));
  const lock = readFileSync(join(dir, '.terraform.lock.hcl'), 'utf8');
  expect(lock).toContain(`provider "${providerSource}"`);
});

it('refuses a provider that is not in the mirror instead of asking a registry', async () => {
  const dir = fixture('azapi');
  rmSync(join(dir, '.terraform'), { recursive: true, force: true });
  rmSync(join(dir, '.terraform.lock.hcl'), { force: true });
  const main = readFileSync(join(dir, 'main.tf'), 'utf8').replace('version = "1.15.0"', 'version = "9.9.9"');
  writeFileSync(join(dir, 'main.tf'), main);
  const failed = await tf(dir, 'init', '-input=false', '-no-color').catch((e: { stderr: string }) => e);
  expect(failed.stderr).toMatch(/no available releases match|does not have a package available|could not find/i);
});
