// The Terraform driver with the real terraform CLI and a real PostgreSQL state backend: idempotent
// applies, output streamed as heartbeats, one run per cluster at a time, a killed apply that a
// re-run converges, and destroy.
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { waitForTerraformApply } from '../test/support/processes.js';
import {
  createTerraformActivities,
  foreignStateResources,
  foreignImports,
  STATE_LOCKED,
  type TerraformActivities,
  type TerraformApplyResult,
} from './terraform.js';

const stack = inject('stack');
const moduleDir = fileURLToPath(new URL('../test/fixtures/terraform-servers', import.meta.url));
const workRoot = mkdtempSync(join(tmpdir(), 'hcs-tf-driver-'));
let tf: TerraformActivities;
/** The same driver, but not waiting for a lock: shows a run that finds the state locked. */
let tfNoWait: TerraformActivities;

beforeAll(() => {
  // The pg backend needs a PostgreSQL server: the store's (CI and this machine provide one).
  if (stack.database.kind !== 'postgres') throw new Error('the Terraform pg backend needs the PostgreSQL store database');
  const url = new URL(stack.database.url);
  url.searchParams.set('sslmode', 'disable');
  const deps = {
    terraformBinary: stack.tools.terraform,
    cliConfigFile: stack.tools.terraformConfig.cliConfigFile,
    workRoot,
    backend: { kind: 'pg' as const, connStr: url.toString() },
  };
  tf = createTerraformActivities(deps);
  tfNoWait = createTerraformActivities({ ...deps, lockTimeoutSeconds: 0 });
});
afterAll(() => rmSync(workRoot, { recursive: true, force: true }));

/** A cluster's state name and owner, from a fresh random id as the lifecycle derives them. */
function cluster() {
  const clusterId = randomBytes(16).toString('hex');
  return { state: `hcs_${clusterId}`, owner: { clusterId } };
}

const waitForApplyProcess = async () => {
  const pid = await waitForTerraformApply(stack.tools.terraform, workRoot);
  return pid ? String(pid) : '';
};

function activity() {
  const lines: string[] = [];
  /** The terraform commands run, in order of their ends. */
  const commands: string[] = [];
  const capture = (_level: string, message: string, meta?: Record<string, unknown>) => {
    lines.push(`${message} ${typeof meta?.line === 'string' ? meta.line : ''}`);
    if (message === 'terraform command ended') commands.push(String(meta?.command));
  };
  const logger = {
    log: capture,
    trace: (m: string, a?: Record<string, unknown>) => capture('trace', m, a),
    debug: (m: string, a?: Record<string, unknown>) => capture('debug', m, a),
    info: (m: string, a?: Record<string, unknown>) => capture('info', m, a),
    warn: (m: string, a?: Record<string, unknown>) => capture('warn', m, a),
    error: (m: string, a?: Record<string, unknown>) => capture('error', m, a),
  };
  const env = new MockActivityEnvironment({ activityType: 'terraformApply' }, { logger });
  const beats: Array<{ phase: string; line: string }> = [];
  env.on('heartbeat', (d: { phase: string; line: string }) => beats.push(d));
  return { env, beats, lines, commands };
}

it('applies once, then finds nothing to change, streaming its output as heartbeats', async () => {
  const c = cluster();
  const first = activity();
  const applied = await first.env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 5 } });
  expect(applied).toEqual({ changed: true, outputs: { zones: [1, 2, 3, 1, 2] } });
  expect(first.beats.map((b) => b.phase)).toEqual(expect.arrayContaining(['init', 'plan', 'apply']));
  // Every line reaches the activity log; heartbeats carry the latest line at most once a second.
  expect(first.lines.some((l) => /Apply complete! Resources: 5 added/.test(l))).toBe(true);
  // The outputs come from the apply's own messages: no `terraform output` after it.
  expect(first.commands).toEqual(expect.arrayContaining(['plan', 'apply']));
  expect(first.commands).not.toContain('output');

  const again = await activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 5 } });
  expect(again).toEqual({ changed: false, outputs: { zones: [1, 2, 3, 1, 2] } });
  const scaled = await activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 3 } });
  expect(scaled).toEqual({ changed: true, outputs: { zones: [1, 2, 3] } });
});

it('never runs two applies on one cluster at once: the second is refused as locked (retryable)', async () => {
  const c = cluster();
  const slow = activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 1, delay_seconds: 10 } });
  expect(await waitForApplyProcess()).not.toBe(''); // the first run is applying and holds the lock
  const second = await activity()
    .env.run(tfNoWait.terraformApply, { ...c, moduleDir, variables: { servers: 1, delay_seconds: 4 } })
    .catch((e: unknown) => e);
  expect(second).toMatchObject({ type: STATE_LOCKED, nonRetryable: false });
  expect(await slow).toMatchObject({ changed: true });
});

it('runs applies of different clusters side by side (each cluster has its own lock)', async () => {
  const clusters = [cluster(), cluster()];
  // allSettled: a failing run must not leave the other one running into the next test.
  const results = await Promise.allSettled(
    clusters.map((c) => activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 2, delay_seconds: 3 } })),
  );
  expect(results).toEqual([
    { status: 'fulfilled', value: { changed: true, outputs: { zones: [1, 2] } } },
    { status: 'fulfilled', value: { changed: true, outputs: { zones: [1, 2] } } },
  ]);
});

it('converges when an apply was killed with SIGKILL in the middle', async () => {
  const c = cluster();
  const killed = activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 3, delay_seconds: 6 } });
  // Wait until terraform is inside the apply (its provisioners sleep), then kill it hard.
  const pid = await waitForApplyProcess();
  expect(pid).not.toBe('');
  await new Promise((r) => setTimeout(r, 1_000));
  process.kill(Number(pid), 'SIGKILL');
  await expect(killed).rejects.toMatchObject({ type: 'TerraformFailed' });

  // No stale lock: the pg advisory lock dies with terraform's database session, at most a
  // moment later (a retry of the retryable TerraformStateLocked, as Temporal would do, covers it).
  let rerun: { outputs: unknown } | undefined;
  for (let attempt = 1; !rerun; attempt++) {
    const input = { ...c, moduleDir, variables: { servers: 3, delay_seconds: 0 } };
    rerun = await activity()
      .env.run<[typeof input], TerraformApplyResult, typeof tf.terraformApply>(tf.terraformApply, input)
      .catch((e: { type?: string }) => {
        if (e.type !== STATE_LOCKED || attempt >= 5) throw e;
        return new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000));
      });
  }
  expect(rerun.outputs).toEqual({ zones: [1, 2, 3] });
  const settled: { changed: boolean } = await activity().env.run(tf.terraformApply, {
    ...c,
    moduleDir,
    variables: { servers: 3, delay_seconds: 0 },
  });
  expect(settled.changed).toBe(false);

  await activity().env.run(tf.terraformDestroy, { ...c, moduleDir, variables: { servers: 3, delay_seconds: 0 } });
  // Nothing left: zero servers plans only the (now empty) output, and then nothing at all.
  expect(await activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 0 } })).toEqual({
    changed: true,
    outputs: { zones: [] },
  });
  expect(await activity().env.run(tf.terraformApply, { ...c, moduleDir, variables: { servers: 0 } })).toEqual({
    changed: false,
    outputs: { zones: [] },
  });
});

it("finds another cluster's resources in a state, and imports that are not provably the cluster's own", () => {
  const ours = cluster().owner;
  const other = cluster().owner.clusterId;
  const resource = (name: string, tags: Record<string, string> | null, module = 'module.cluster') => ({
    mode: 'managed',
    module,
    type: 'azapi_resource',
    name,
    instances: [{ attributes: { tags } }],
  });
  const state = (...resources: unknown[]) => ({ version: 4, resources });
  expect(foreignStateResources(state(resource('vnet', { 'hcs-cluster-id': ours.clusterId })), ours)).toEqual([]);
  // Untagged resources (a cluster from before ids, a role assignment) do not make a state foreign.
  expect(foreignStateResources(state(resource('blob_reader', null), resource('nsg', {})), ours)).toEqual([]);
  expect(
    foreignStateResources(
      state(resource('vnet', { 'hcs-cluster-id': ours.clusterId }), resource('nsg', { 'hcs-cluster-id': other }), {
        mode: 'data',
        type: 'azapi_resource_list',
        name: 'nics',
        instances: [{ attributes: { tags: { 'hcs-cluster-id': other } } }],
      }),
      ours,
    ),
  ).toEqual(['module.cluster.azapi_resource.nsg']);
  expect(foreignStateResources({}, ours)).toEqual([]);

  const importing = (id: string, before: unknown) => ({
    address: `module.cluster.azapi_resource.${id}`,
    change: { importing: { id: `/subscriptions/s/resourceGroups/rg/${id}` }, before, after: tagged(ours.clusterId) },
  });
  const tagged = (id: string) => ({ tags: { 'hcs-cluster': 'c', 'hcs-cluster-id': id } });
  const plan = (...changes: unknown[]) => ({
    resource_changes: [
      { address: 'module.cluster.azapi_resource.server', change: { before: null, after: tagged(ours.clusterId) } },
      ...changes,
    ],
  });
  // The cluster's own orphans (tagged with its id, or untagged: a role assignment, a resource made before ids): adopted.
  expect(foreignImports(plan(importing('rg', tagged(ours.clusterId))), ours)).toEqual([]);
  expect(foreignImports(plan(importing('ra', { tags: null }), importing('vnet', { tags: {} })), ours)).toEqual([]);
  // Another cluster's resource: refused.
  expect(foreignImports(plan(importing('nsg', tagged(ours.clusterId)), importing('rg', tagged(other))), ours)).toEqual([
    '/subscriptions/s/resourceGroups/rg/rg',
  ]);
});
