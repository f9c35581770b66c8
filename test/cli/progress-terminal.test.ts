// hcs on a real cluster, as a person at a terminal sees it: the CLI runs in a tmux pane (a real
// pseudo-terminal) and creates a cluster with the real lifecycle workflows; tmux capture-pane
// shows the progress bar with the step and the percent while it runs, and the bar at 100% with
// the cluster when it is done. Then the rest of a real cluster's CLI flow: the client
// configuration as files, a root token rotation whose new token works in Consul, and the delete.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import { clientAccess, consulCall, lifecycleConfig } from '../support/lifecycle.js';
import { HCS_BIN, hcs, shown, tokenFile, userEnv } from './support.js';

const stack = inject('stack');
const dir = useScratchFolder('hcs-cli-tty-');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }));
const socket = `hcs-cli-${randomUUID().slice(0, 8)}`;
const RG = 'rg-cli-tty';

/** tmux on the test's own server socket, in a UTF-8 locale (the bar is drawn with block characters). */
function tmux(...args: string[]): string {
  const r = spawnSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8' } });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

afterAll(() => {
  spawnSync('tmux', ['-L', socket, 'kill-server']);
});

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

it('shows a progress bar with the step and the percent in a terminal, then config, token rotation and delete work on the real cluster', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const env = userEnv(cp, dir, { subscription: sub, resourceGroup: RG });
  const token = tokenFile(dir, 'token', cp.tokens.admin);
  const codeFile = join(dir, 'create.code');
  const version = stack.tools.consulVersions.at(-1)!;
  const script = join(dir, 'create.sh');
  writeFileSync(
    script,
    [
      '#!/bin/sh',
      ...Object.entries(env).map(([k, v]) => `export ${k}=${quote(v)}`),
      `${quote(process.execPath)} ${quote(HCS_BIN)} --token-file ${quote(token)} cluster create tty -l westeurope --consul-version ${version} --cidr 10.40.0.0/16 --servers 1`,
      `echo $? > ${quote(codeFile)}`,
      'sleep 600',
    ].join('\n'),
  );
  tmux('new-session', '-d', '-s', 'hcs', '-x', '150', '-y', '15', `sh ${quote(script)}`);

  // Frames of the pane until the command has ended (the deadline only stops a hung run).
  const frames: string[] = [];
  for (const end = Date.now() + 600_000; !existsSync(codeFile);) {
    if (Date.now() > end) throw new Error(`hcs cluster create still running after 10 minutes:\n${frames.at(-1)}`);
    frames.push(tmux('capture-pane', '-p', '-t', 'hcs'));
    await new Promise((r) => setTimeout(r, 250));
  }
  const last = tmux('capture-pane', '-p', '-t', 'hcs');
  expect(readFileSync(codeFile, 'utf8').trim(), last).toBe('0');

  // While it ran: a bar, its percent, a step the workflow reported, the status.
  const bar = /create tty \[[^\]]{30}\] (\d{1,3})% \| ([a-z][\w-]*) \| (Accepted|Running)/;
  const running = frames.map((f) => bar.exec(f)).filter((m): m is RegExpExecArray => m !== null);
  expect(running.length, frames.at(-1)).toBeGreaterThan(0);
  expect(running.some((m) => Number(m[1]) > 0 && Number(m[1]) < 100)).toBe(true);
  console.log(
    `[cli-tty] steps seen in the bar: ${[...new Set(running.map((m) => `${m[2]} ${m[1]}%`))].join(', ')}; one frame: ${running.at(-1)![0]}`,
  );
  // At the end: the bar full and Succeeded, then the cluster's table row.
  expect(last).toMatch(/create tty \[[^\]]{30}\] 100% \| [\w-]+ \| Succeeded/);
  expect(last).toMatch(/^tty\s+westeurope\s+Succeeded\s/m);

  const run = (args: string[]) => hcs(['--token-file', token, ...args], env);
  const id = `/subscriptions/${sub}/resourceGroups/${RG}/providers/HCS.Consul/clusters/tty`;

  // The client configuration, the CA bundle and the Helm values as owner-only files.
  const out = join(dir, 'client');
  const config = await run(['config', 'get', 'tty', '--out', out, '-o', 'json']);
  expect(config.code, shown(config)).toBe(0);
  const access = await clientAccess(cp, id);
  const files = JSON.parse(config.stdout) as { files: Array<{ kind: string; path: string }> };
  expect(files.files.map((f) => f.path)).toEqual([join(out, 'client-config.json'), join(out, 'ca.pem'), join(out, 'helm-values.yaml')]);
  for (const f of files.files) expect(statSync(f.path).mode & 0o777).toBe(0o600);
  expect(JSON.parse(readFileSync(join(out, 'client-config.json'), 'utf8'))).toEqual(access.clientConfig);
  expect(readFileSync(join(out, 'ca.pem'), 'utf8')).toBe(access.caPem);
  expect(parseYaml(readFileSync(join(out, 'helm-values.yaml'), 'utf8'))).toEqual(parseYaml(access.helmValues));

  // A new root token into a file; stdout names its accessor only, and Consul accepts the secret.
  const secretFile = join(dir, 'root-token');
  const rotated = await run(['token', 'rotate', 'tty', '--secret-file', secretFile, '-o', 'json']);
  expect(rotated.code, shown(rotated)).toBe(0);
  const { accessorId } = JSON.parse(rotated.stdout) as { accessorId: string };
  const secret = readFileSync(secretFile, 'utf8').trim();
  expect(statSync(secretFile).mode & 0o777).toBe(0o600);
  expect(`${rotated.stdout}${rotated.stderr}`).not.toContain(secret);
  const self = await consulCall(access, access.addresses[0]!, '/v1/acl/token/self', secret);
  expect(self.status, self.body).toBe(200);
  expect((JSON.parse(self.body) as { AccessorID: string }).AccessorID).toBe(accessorId);

  const deleted = await run(['cluster', 'delete', 'tty', '--yes', '-o', 'json']);
  expect(deleted.code, shown(deleted)).toBe(0);
  expect(JSON.parse(deleted.stdout)).toMatchObject({ status: 'Succeeded', properties: { kind: 'delete' } });
  expect((await run(['cluster', 'get', 'tty'])).code).toBe(3);
});
