// `npm run build` and the production processes on its output, with plain node (no tsx): the API
// and the worker as two processes against the run's stack and a PostgreSQL store of their own. A
// create through the built API runs on the built worker (Terraform from the build's copy of the
// roots) to Succeeded, and a delete removes it; a bad setting stops each process, host-manager
// included, with a message naming the setting.
import { Client, Connection } from '@temporalio/client';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { localControlPlaneSettings, type LocalControlPlaneSettings } from '../../devstack/control-plane-settings.js';
import { resolveDatabase, type ResolvedDatabase } from '../../devstack/services/database.js';
import { Supervisor } from '../../devstack/supervisor.js';
import { expectStatus, httpCall } from '../../lib/http.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { putResultUrl } from '../support/control-plane-fixture.js';
import { runBuild, type DistBuild } from '../support/dist-build.js';
import { clusterWorkflows } from '../support/lifecycle.js';

const stack = inject('stack');
const run = promisify(execFile);
const id = randomBytes(4).toString('hex');
const work = join(stack.dataDir, `production-build-${id}`);
const taskQueue = `dist-${id}`;
/** temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW */
const WORKFLOW_TASK_QUEUE = 1;

let build: DistBuild;
let sup: Supervisor | undefined;
let db: ResolvedDatabase | undefined;
let connection: Connection | undefined;
let restUrl: string;
let apiCa: string;
let adminToken: string;
let payloadKeys: string;
let workerPid: number;
let settings: LocalControlPlaneSettings;

const entry = (...path: string[]) => join(build.dir, ...path);

/** A REST call to the built API with the local admin token. */
async function call(method: string, path: string, body?: unknown) {
  const url = path.startsWith('https://') ? path : `${restUrl}${path}`;
  const res = await httpCall(url, {
    method,
    ca: apiCa,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    timeoutInMs: 30_000,
  });
  return { status: res.status, headers: res.headers, json: res.body ? (JSON.parse(res.body) as Record<string, any>) : undefined };
}

/** Follows an async operation's result URL until it answers with a final status. */
async function operationResult(url: string, timeoutMs: number) {
  for (const end = Date.now() + timeoutMs; ;) {
    const res = await call('GET', url);
    if (res.status !== 202) return res;
    if (Date.now() > end) throw new Error(`operation still running after ${timeoutMs} ms: ${url}`);
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

beforeAll(async () => {
  build = await runBuild(stack);
  mkdirSync(work, { recursive: true });
  db = await resolveDatabase({ name: `hcs_build_${id}`, prefer: 'auto', pgliteDir: join(work, 'pglite') });
  if (db.config.kind !== 'postgres') throw new Error('the production processes need PostgreSQL: none answers on 127.0.0.1:5432');
  // The run's stack with a store database and credentials of this file's own.
  settings = localControlPlaneSettings({ ...stack, database: db.config, dataDir: work });
  adminToken = settings.adminToken;
  apiCa = settings.tls.caCertPem;
  payloadKeys = readFileSync(settings.payloadKeysFile, 'utf8').trim();
  sup = new Supervisor({ stateDir: join(work, 'supervisor') });
  const [restPort, grpcPort] = [await sup.port('api-rest'), await sup.port('api-grpc')];
  restUrl = `https://127.0.0.1:${restPort}`;
  // Plain node: no loader inherited from the test runner.
  const common = { HCS_TASK_QUEUE: taskQueue, HCS_LOG_LEVEL: 'info', NODE_OPTIONS: undefined };
  await sup.start({
    name: 'dist-api',
    command: process.execPath,
    args: [entry('apps', 'control-plane', 'src', 'api-main.js')],
    env: { ...settings.env({ api: { restPort, grpcPort } }), ...common },
    readyTimeoutMs: 120_000,
    probe: async () => void (await expectStatus(`${restUrl}/healthz`, [200], { ca: apiCa })),
  });
  // The worker applies the Terraform roots copied into the build.
  const workerEnv = settings.env({ worker: { workRoot: join(work, 'terraform-work') } });
  const lifecycle = JSON.parse(workerEnv.HCS_LIFECYCLE!) as { terraform: { moduleDir: string } };
  lifecycle.terraform.moduleDir = entry('terraform');
  connection = await Connection.connect({ address: stack.temporal.address });
  const temporal = new Client({ connection, namespace: stack.temporal.namespace });
  const worker = await sup.start({
    name: 'dist-worker',
    command: process.execPath,
    args: [entry('apps', 'control-plane', 'src', 'worker-main.js')],
    env: { ...workerEnv, HCS_LIFECYCLE: JSON.stringify(lifecycle), HCS_FLEET_UPGRADE_INTERVAL_SECONDS: '0', ...common },
    readyTimeoutMs: 180_000,
    // Ready: it polls its task queue (its workflow bundle was built from the build's workflows/index.js).
    probe: async () => {
      const { pollers } = await temporal.workflowService.describeTaskQueue({
        namespace: stack.temporal.namespace,
        taskQueue: { name: taskQueue },
        taskQueueType: WORKFLOW_TASK_QUEUE,
      });
      if (!pollers?.length) throw new Error(`no poller on ${taskQueue} yet`);
    },
  });
  workerPid = worker.pid;
}, 900_000);

afterAll(async () => {
  await sup?.stop();
  await connection?.close();
  await db?.drop();
}, 120_000);

describe('npm run build', () => {
  it('holds the production code as JavaScript with its run-time assets, and no tests or development code', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? files(join(dir, d.name)) : [join(dir, d.name)]));
    const all = files(build.dir).map((f) => relative(build.dir, f));
    for (const f of [
      'apps/control-plane/src/api-main.js',
      'apps/control-plane/src/worker-main.js',
      'apps/control-plane/src/embedded-main.js',
      'apps/host-manager/src/main.js',
      'workflows/index.js',
      'store/migrations/0001_initial.sql',
      'terraform/examples/local-twin/main.tf',
      'terraform/modules/consul-cluster/main.tf',
    ])
      expect(all).toContain(f);
    expect(all.some((f) => /^gen\/openapi\/.+\.json$/.test(f))).toBe(true);
    expect(all.filter((f) => f.endsWith('.ts'))).toEqual([]);
    expect(all.filter((f) => /\.test\.js$|^(test|bench|devstack|scripts)\//.test(f))).toEqual([]);
    expect(existsSync(join(build.dir, 'apps', 'local-cloud'))).toBe(false);
  });
});

describe('the API and the worker from the build, on PostgreSQL', () => {
  it('the API answers /healthz and serves the OpenAPI document copied into the build', async () => {
    expect((await call('GET', '/healthz')).json).toEqual({ status: 'ok' });
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    expect(doc.json?.info).toBeDefined();
  });

  it('a create through the built API runs on the built worker to Succeeded, and a delete removes the cluster', async () => {
    const sub = randomUUID();
    const registered = await call('PUT', `/subscriptions/${sub}?api-version=2.0`, {
      state: 'Registered',
      registrationDate: new Date().toUTCString(),
      properties: { tenantId: randomUUID() },
    });
    expect(registered.status, JSON.stringify(registered.json)).toBe(200);
    const path = `/subscriptions/${sub}/resourceGroups/rg-dist/providers/HCS.Consul/clusters/dist-${id}`;
    const v = '?api-version=2026-11-01';
    const put = await call('PUT', `${path}${v}`, {
      location: 'westeurope',
      properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 1, network: { cidr: '10.93.0.0/16' } },
    });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    const created = await operationResult(putResultUrl({ status: put.status, body: '', headers: put.headers }), 600_000);
    expect(created.status, JSON.stringify(created.json)).toBe(200);
    expect((await call('GET', `${path}${v}`)).json?.properties?.provisioningState).toBe('Succeeded');

    // Every workflow task and activity of the create ran in the built worker's process.
    const codec = new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys));
    const workflowIds = await clusterWorkflows(stack, codec, path.toLowerCase());
    expect(workflowIds.length).toBeGreaterThan(0);
    const temporal = new Client({ connection: connection!, namespace: stack.temporal.namespace });
    const identities = new Set<string>();
    for (const workflowId of workflowIds)
      for (const e of (await temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [])
        for (const identity of [e.workflowTaskCompletedEventAttributes?.identity, e.activityTaskStartedEventAttributes?.identity])
          if (identity) identities.add(identity);
    expect([...identities]).toEqual([`${workerPid}@${hostname()}`]);

    // One operation at a time: a scheduled one that started meanwhile is waited for (409 names it).
    let del = await call('DELETE', `${path}${v}`);
    for (let i = 0; i < 60 && del.status === 409; i++) {
      await new Promise((r) => setTimeout(r, 2_000));
      del = await call('DELETE', `${path}${v}`);
    }
    expect(del.status, JSON.stringify(del.json)).toBe(202);
    const location = String(del.headers.location);
    const deleted = await operationResult(location, 600_000);
    expect(deleted.status, JSON.stringify(deleted.json)).toBeLessThan(300);
    expect((await call('GET', `${path}${v}`)).status).toBe(404);
  }, 1_500_000);

  it('a bad setting stops the API, the worker and host-manager with a message naming it', async () => {
    const fails = async (file: string, env: Record<string, string>) => {
      const r = await run(process.execPath, [entry(...file.split('/'))], {
        env: { PATH: process.env.PATH, ...env },
        timeout: 60_000,
      }).then(
        () => ({ code: 0, stderr: '' }),
        (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
      );
      expect(r.code).not.toBe(0);
      return r.stderr;
    };
    // Valid settings but one: the message names that one.
    const api = { ...settings.env({ api: { restPort: 0, grpcPort: 0 } }), HCS_API_PORT: 'not-a-port' };
    const apiError = await fails('apps/control-plane/src/api-main.js', api);
    expect(apiError).toMatch(/invalid configuration: HCS_API_PORT/);
    expect(apiError).not.toMatch(/HCS_DATABASE|HCS_TEMPORAL_ADDRESS|HCS_AUTH/);
    const { HCS_TEMPORAL_ADDRESS: _unused, ...worker } = settings.env({ worker: { workRoot: join(work, 'unused') } });
    expect(await fails('apps/control-plane/src/worker-main.js', worker)).toMatch(/invalid configuration: HCS_TEMPORAL_ADDRESS/);
    expect(await fails('apps/host-manager/src/main.js', { HCS_INSTANCE_IP: '127.0.0.1', HCS_CONSUL_BINARIES: '{}' })).toMatch(
      /HCS_CUSTOM_DATA_FILE/,
    );
  });
});
