// The `hcs` CLI as a user runs it: the binary `npm install -g` puts on PATH, as a child process,
// against the real API, Temporal and store. Operations here run the stand-in workflow
// (STAND_IN_WORKFLOW_TYPES), as the API's own contract tests do; a second control plane without
// a worker keeps operations where they start, for --no-wait, cancel and 409. The real lifecycle
// and the progress bar in a terminal are in progress-terminal.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { useControlPlane, useScratchFolder } from '../support/control-plane-fixture.js';
import { arm } from '../support/lifecycle.js';
import { hcs, shown, tokenFile, userEnv, type CliResult } from './support.js';

const stack = inject('stack');
const dir = useScratchFolder('hcs-cli-');
const cp = useControlPlane(stack);
const idle = useControlPlane(stack, () => ({ externalWorker: true }));
const [OLDER, NEWER] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const RG = 'rg-cli';
const sub = randomUUID();
let env: Record<string, string>;
let bin: string;
let adminTokenFile: string;

/** hcs with the admin token from a file, as the installed binary. */
const run = (args: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> =>
  hcs(['--token-file', adminTokenFile, ...args], { ...env, ...extraEnv }, bin);
const json = <T = any>(r: CliResult): T => {
  expect(r.code, shown(r)).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const clusterId = (name: string, s = sub) => `/subscriptions/${s}/resourceGroups/${RG}/providers/HCS.Consul/clusters/${name}`;

beforeAll(async () => {
  await cp.registerSubscription(sub);
  env = userEnv(cp, dir, { subscription: sub, resourceGroup: RG });
  adminTokenFile = tokenFile(dir, 'admin-token', cp.tokens.admin);
  // The package's bin, installed as a user installs it (a global install of the checkout, into a prefix of the test's own).
  const prefix = join(dir, 'prefix');
  const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', repoRoot], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`npm install -g of the checkout failed: ${install.stderr}`);
  bin = join(prefix, 'bin', 'hcs');
});

describe('hcs against the real API (stand-in workflows)', () => {
  it('is installed by npm install as the hcs command', async () => {
    const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
    const r = await hcs(['--version'], env, bin);
    expect(r, shown(r)).toMatchObject({ code: 0, stdout: `${version}\n` });
    // In the checkout, npx finds the package's own bin.
    const npx = spawnSync('npx', ['--no-install', 'hcs', '--version'], { cwd: repoRoot, encoding: 'utf8' });
    expect(npx.stdout, npx.stderr).toBe(`${version}\n`);
    const help = await hcs(['--help'], env, bin);
    for (const group of ['cluster', 'snapshot', 'config', 'token', 'operation', 'federation']) expect(help.stdout).toContain(group);
  });

  it('creates a cluster and waits for its operation, showing each step and percent on stderr', async () => {
    const r = await run([
      'cluster',
      'create',
      'web',
      '-l',
      'westeurope',
      '--consul-version',
      OLDER,
      '--cidr',
      '10.20.0.0/16',
      '--tag',
      'team=core',
      '-o',
      'json',
    ]);
    const cluster = json(r);
    expect(cluster).toMatchObject({ id: clusterId('web'), tags: { team: 'core' }, properties: { provisioningState: 'Succeeded' } });
    // Not a terminal: one line per change of status, step or percent, the last one the end.
    expect(r.stderr).toMatch(/^create web: (Accepted|Running) \d+%/m);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/^create web: Succeeded 100%/);
  });

  it('gets and lists clusters as json, yaml and table', async () => {
    const got = json(await run(['cluster', 'get', 'web', '-o', 'json']));
    expect(got).toMatchObject({ name: 'web', location: 'westeurope', properties: { consulVersion: OLDER } });
    const yaml = await run(['cluster', 'get', 'web', '-o', 'yaml']);
    expect(yaml.code, shown(yaml)).toBe(0);
    expect(parseYaml(yaml.stdout)).toEqual(got);
    const table = await run(['cluster', 'get', 'web']);
    expect(table.code, shown(table)).toBe(0);
    const [header, row, ...rest] = table.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^NAME\s+LOCATION\s+STATE\s+VERSION\s+SERVERS\s+DATACENTER\s+ENDPOINT$/);
    expect(row!.split(/\s+/).slice(0, 4)).toEqual(['web', 'westeurope', 'Succeeded', OLDER]);
    expect(rest).toEqual([]);

    // The resource group's clusters, and the subscription's when no resource group is set.
    expect(json<{ value: Array<{ name: string }> }>(await run(['cluster', 'list', '-o', 'json'])).value.map((c) => c.name)).toEqual([
      'web',
    ]);
    const bySubscription = await hcs(
      ['--token-file', adminTokenFile, 'cluster', 'list', '-o', 'yaml'],
      { ...env, HCS_RESOURCE_GROUP: '' },
      bin,
    );
    expect(bySubscription.code, shown(bySubscription)).toBe(0);
    expect((parseYaml(bySubscription.stdout) as { value: Array<{ id: string }> }).value.map((c) => c.id)).toEqual([clusterId('web')]);
    const listTable = await run(['cluster', 'list']);
    expect(listTable.stdout.split('\n')[1]).toMatch(/^web\s+westeurope\s+Succeeded/);
  });

  it('--no-wait returns the operation at once; operation watch follows it to its result', async () => {
    // Created with the default 3 servers; 1 is a change (the same count would answer at once, without an operation).
    const op = json(await run(['cluster', 'scale', 'web', '--servers', '1', '--no-wait', '-o', 'json']));
    expect(op).toMatchObject({ properties: { kind: 'scale' }, id: expect.stringMatching(/\/operationStatuses\/[0-9a-f-]{36}$/) });
    const watched = await run(['operation', 'watch', op.name, '--cluster', 'web', '-o', 'json']);
    expect(json(watched)).toMatchObject({ name: 'web', properties: { serverCount: 1, provisioningState: 'Succeeded' } });
    const ops = json(await run(['operation', 'list', 'web', '-o', 'json'])).value as Array<{ name: string; status: string }>;
    expect(ops.find((o) => o.name === op.name)?.status).toBe('Succeeded');
    const table = await run(['operation', 'list', 'web']);
    expect(table.stdout.split('\n')[0]).toMatch(/^OPERATION\s+KIND\s+STATUS\s+PERCENT\s+STEP/);
  });

  it('--no-wait with no worker: the operation stays Accepted, Ctrl-C stops the waiting and not the operation, a change meanwhile is 409 (exit 4), cancel asks it to stop', async () => {
    const s = randomUUID();
    await idle.registerSubscription(s);
    const idleEnv = { ...userEnv(idle, join(dir, 'idle'), { subscription: s, resourceGroup: RG }) };
    const idleRun = (args: string[]) => hcs(['--token-file', tokenFile(dir, 'idle-token', idle.tokens.admin), ...args], idleEnv, bin);
    const r = await idleRun([
      'cluster',
      'create',
      'waits',
      '-l',
      'westeurope',
      '--consul-version',
      NEWER,
      '--cidr',
      '10.30.0.0/16',
      '--no-wait',
      '-o',
      'json',
    ]);
    const op = json(r);
    expect(op).toMatchObject({ status: 'Accepted', properties: { kind: 'create', resourceId: clusterId('waits', s) } });
    expect(r.stderr).toContain(`hcs operation watch ${op.id}`);

    // Ctrl-C while waiting stops the CLI (130), not the operation.
    const watcher = spawn(bin, ['--token-file', join(dir, 'idle-token'), 'operation', 'watch', op.id], {
      env: { PATH: process.env.PATH ?? '', ...idleEnv },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let watchErr = '';
    await new Promise<void>((resolve) =>
      watcher.stderr.on('data', (c: Buffer) => {
        watchErr += c.toString('utf8');
        if (/: Accepted 0%/.test(watchErr)) resolve();
      }),
    );
    const closed = new Promise<number | null>((resolve) => watcher.on('close', (code) => resolve(code)));
    watcher.kill('SIGINT');
    expect(await closed, watchErr).toBe(130);
    expect(watchErr).toContain('interrupted: the operation goes on');
    const still = json<{ value: Array<{ name: string; status: string }> }>(await idleRun(['operation', 'list', 'waits', '-o', 'json']));
    expect(still.value).toEqual([expect.objectContaining({ name: op.name, status: 'Accepted' })]);

    const busy = await idleRun(['cluster', 'scale', 'waits', '--servers', '3']);
    expect(busy.code, shown(busy)).toBe(4);
    expect(busy.stderr).toMatch(/^error: (OperationInProgress|ClusterNotReady): .+\n {2}HTTP 409, request id [0-9a-f-]{36}\n$/);

    const canceled = json(await idleRun(['operation', 'cancel', op.id, '-o', 'json']));
    // Canceling until the workflow (which no worker runs here) ends; Canceled when it never started.
    expect(canceled).toMatchObject({ name: op.name, status: expect.stringMatching(/^Cancel(ing|ed)$/) });
    const listed = json(await idleRun(['operation', 'list', 'waits', '-o', 'json'])).value as Array<{ name: string; status: string }>;
    expect(listed).toEqual([expect.objectContaining({ name: op.name, status: canceled.status })]);
  });

  it('a 404, a 409, a 412 and a 400 print the ARM code, message and target with their exit codes, and change nothing', async () => {
    const missing = await run(['cluster', 'get', 'nope']);
    expect(missing.code, shown(missing)).toBe(3);
    expect(missing.stderr).toMatch(/^error: ResourceNotFound: .*nope.*\n {2}HTTP 404, request id [0-9a-f-]{36}\n$/);
    expect(missing.stdout).toBe('');

    const unregistered = randomUUID();
    const refused = await run([
      'cluster',
      'create',
      'web',
      '-l',
      'westeurope',
      '--consul-version',
      NEWER,
      '--cidr',
      '10.21.0.0/16',
      '-s',
      unregistered,
    ]);
    expect(refused.code, shown(refused)).toBe(4);
    expect(refused.stderr).toMatch(/^error: SubscriptionNotRegistered: .+\n {2}HTTP 409/);
    expect((await run(['cluster', 'get', 'web', '-s', unregistered])).code).toBe(3);

    const exists = await run(['cluster', 'create', 'web', '-l', 'westeurope', '--consul-version', NEWER, '--cidr', '10.22.0.0/16']);
    expect(exists.code, shown(exists)).toBe(4);
    expect(exists.stderr).toMatch(/^error: PreconditionFailed: /);

    const invalid = await run(['cluster', 'create', 'bad', '-l', 'westeurope', '--consul-version', NEWER, '--cidr', '10.0.0.0/8']);
    expect(invalid.code, shown(invalid)).toBe(7);
    expect(invalid.stderr).toMatch(/^error: \w+: .+\n {2}target: properties\.network\.cidr\n/);
    expect((await run(['cluster', 'get', 'bad'])).code).toBe(3);
    expect(json(await run(['cluster', 'get', 'web', '-o', 'json'])).properties.network.cidr).toBe('10.20.0.0/16');
  });

  it('bad flags and arguments exit 1 before any request, and change nothing', async () => {
    const before = await arm(cp, 'GET', clusterId('web'));
    const opsBefore = await arm(cp, 'GET', `${clusterId('web')}/operations`);
    const cases = [
      ['cluster', 'scale', 'web', '--servers', 'three'],
      ['cluster', 'scale', 'web', '--servers', '1', '--bogus'],
      ['cluster', 'scale', 'web'],
      ['cluster', 'delete', 'web'],
      ['cluster', 'update', 'web'],
      ['cluster', 'update', 'web', '--automatic-patch-upgrades', 'maybe'],
      ['-o', 'xml', 'cluster', 'get', 'web'],
      ['cluster', 'create'],
      ['clusters', 'list'],
      ['operation', 'watch', 'not-a-path-or-id'],
      ['snapshot', 'rename', 'web', 'some-id'],
    ];
    for (const args of cases) {
      const r = await run(args);
      expect(r.code, `${args.join(' ')}: ${shown(r)}`).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/error/);
    }
    // The same with an endpoint nothing listens on: still 1, not 6, so no request was tried.
    const offline = await run(['cluster', 'scale', 'web', '--servers', 'three'], { HCS_ENDPOINT: 'https://127.0.0.1:9' });
    expect(offline.code, shown(offline)).toBe(1);
    expect((await arm(cp, 'GET', clusterId('web'))).body).toBe(before.body);
    expect((await arm(cp, 'GET', `${clusterId('web')}/operations`)).body).toBe(opsBefore.body);
  });

  it('takes credentials from a file, HCS_TOKEN or the config folder, and never prints them', async () => {
    const token = cp.tokens.admin;
    const leaks = (r: CliResult) => `${r.stdout}${r.stderr}`.includes(token);
    const noFlag = (args: string[], extra: Record<string, string>) => hcs(args, { ...env, ...extra }, bin);

    const viaEnv = await noFlag(['cluster', 'get', 'nope'], { HCS_TOKEN: token });
    expect(viaEnv.code, shown(viaEnv)).toBe(3);
    expect(leaks(viaEnv)).toBe(false);

    const wrong = `hcsop_wrong_${randomBytes(16).toString('hex')}`;
    const refused = await noFlag(['cluster', 'get', 'web'], { HCS_TOKEN: wrong });
    expect(refused.code, shown(refused)).toBe(2);
    expect(refused.stderr).toMatch(/^error: AuthenticationFailed: /);
    expect(`${refused.stdout}${refused.stderr}`).not.toContain(wrong);

    const open = tokenFile(dir, 'open-token', token, 0o644);
    const openRun = await hcs(['--token-file', open, 'cluster', 'get', 'web'], env, bin);
    expect(openRun.code, shown(openRun)).toBe(2);
    expect(openRun.stderr).toContain(`chmod 600 ${open}`);
    expect(leaks(openRun)).toBe(false);

    const none = await noFlag(['cluster', 'get', 'web'], {});
    expect(none.code, shown(none)).toBe(2);
    expect(none.stderr).toMatch(/no credentials/);

    const offline = await noFlag(['cluster', 'get', 'web'], { HCS_TOKEN: token, HCS_ENDPOINT: 'https://127.0.0.1:9' });
    expect(offline.code, shown(offline)).toBe(6);
    expect(leaks(offline)).toBe(false);

    // The config folder: the token file and config.yaml stand in for the flags and variables.
    const configDir = join(dir, 'user-config');
    mkdirSync(configDir, { recursive: true });
    tokenFile(configDir, 'token', token);
    writeFileSync(
      join(configDir, 'config.yaml'),
      `endpoint: ${env.HCS_ENDPOINT}\ncaFile: ${env.HCS_CA_FILE}\nsubscription: ${sub}\nresourceGroup: ${RG}\n`,
    );
    const fromConfig = await hcs(['cluster', 'get', 'web', '-o', 'json'], { HOME: env.HOME!, HCS_CONFIG_DIR: configDir }, bin);
    expect(json(fromConfig).name).toBe('web');
    expect(leaks(fromConfig)).toBe(false);
  });

  it('snapshots: create, list, get, rename, delete', async () => {
    const snap = json(await run(['snapshot', 'create', 'web', '--name', 'first', '-o', 'json']));
    expect(snap).toMatchObject({ name: 'first', type: 'SNAPSHOT_TYPE_MANUAL' });
    const listed = json(await run(['snapshot', 'list', 'web', '-o', 'json'])).value as Array<{ id: string }>;
    expect(listed.map((s) => s.id)).toContain(snap.id);
    const table = await run(['snapshot', 'list', 'web']);
    expect(table.stdout).toMatch(new RegExp(`^${snap.id}\\s+first\\s+MANUAL\\s`, 'm'));
    expect(json(await run(['snapshot', 'get', 'web', snap.id, '-o', 'json'])).name).toBe('first');
    expect(json(await run(['snapshot', 'rename', 'web', snap.id, 'renamed', '-o', 'json'])).name).toBe('renamed');
    // The stand-in only completes the operation (the snapshot workflows and their blobs are tested in test/lifecycle/snapshots.test.ts).
    const deleted = json(await run(['snapshot', 'delete', 'web', snap.id, '-o', 'json']));
    expect(deleted).toMatchObject({ status: 'Succeeded', properties: { kind: 'snapshotdelete' } });
    const unknown = await run(['snapshot', 'get', 'web', randomUUID()]);
    expect(unknown.code, shown(unknown)).toBe(3);
  });

  it('federation: a token into an owner-only file, and the federation of a cluster', async () => {
    const file = join(dir, 'federation-token');
    const t = json(await run(['federation', 'token', 'web', '--out', file, '-o', 'json']));
    expect(t).toMatchObject({ tokenId: expect.stringMatching(/^[0-9a-f-]{36}$/), tokenFile: file, expiresAt: expect.any(String) });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const secret = readFileSync(file, 'utf8').trim();
    expect(secret.length).toBeGreaterThan(20);
    expect(JSON.stringify(t)).not.toContain(secret);
    expect(json(await run(['federation', 'get', 'web', '-o', 'json']))).toEqual({
      primaryClusterId: clusterId('web'),
      secondaryClusterIds: [],
      datacenters: ['dc1'],
    });
  });

  it('upgrade and delete follow their operations to the end', async () => {
    const targets = json(await run(['cluster', 'upgrade', 'web', '--list', '-o', 'json'])).value as Array<{ version: string }>;
    expect(targets.map((t) => t.version)).toContain(NEWER);
    const upgraded = json(await run(['cluster', 'upgrade', 'web', '--consul-version', NEWER, '--force', '-o', 'json']));
    expect(upgraded.properties).toMatchObject({ consulVersion: NEWER, provisioningState: 'Succeeded' });
    const deleted = json(await run(['cluster', 'delete', 'web', '--yes', '-o', 'json']));
    expect(deleted).toMatchObject({ status: 'Succeeded', properties: { kind: 'delete' } });
    expect((await run(['cluster', 'get', 'web'])).code).toBe(3);
    const again = await run(['cluster', 'delete', 'web', '--yes']);
    expect(again.code, shown(again)).toBe(0);
    expect(again.stderr).toContain('does not exist');
  });
});
