// Accept fast, lose nothing (issue 15 item 1): the API is SIGKILLed right after a create's
// operation and start request committed and before anything started its workflow (the test hook
// TEST_HOOK_SIGKILL_AFTER_OPERATION_COMMIT, apps/api/src/service/start-operation.ts). The store
// holds the operation (Accepted) and its start request, Temporal has no workflow; the API started
// again (a new process on the same task queue) has its relay start the workflow: exactly one
// workflow for the operation, which runs to its end. The API runs as a process of its own
// (test/fixtures/api-process.ts) on the real store and Temporal; a worker in this process runs
// the stand-in workflows.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, inject, it, vi } from 'vitest';
import { sha256Hex } from '../../apps/api/src/auth.js';
import { CRASH_AFTER_COMMIT_HOOK } from '../../apps/api/src/service/start-operation.js';
import { startWorker, type RunningWorker } from '../../apps/worker/src/worker.js';
import { httpCall } from '../../lib/http.js';
import { AesGcmPayloadCodec, parsePayloadKeys } from '../../lib/payload-codec.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { getCluster } from '../../store/clusters.js';
import { pendingStartRequests } from '../../store/operation-starts.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { putSubscription } from '../../store/subscriptions.js';
import type { ApiProcessSettings } from '../fixtures/api-process.js';
import { clusterBody, clusterPath, V } from '../security/support.js';
import { useStoreDatabase } from '../support/store-fixture.js';

const stack = inject('stack');
const db = useStoreDatabase();
const taskQueue = `outbox-crash-${randomUUID()}`;
const payloadKeys = `crash-1:${randomBytes(32).toString('base64')}`;
const payloadKeysFile = join(mkdtempSync(join(tmpdir(), 'hcs-outbox-crash-')), 'payload-keys');
writeFileSync(payloadKeysFile, payloadKeys, { mode: 0o600 });
const token = `hcsop_crash_${randomBytes(16).toString('hex')}`;
const settings: ApiProcessSettings = {
  database: stack.database,
  temporal: stack.temporal,
  taskQueue,
  payloadKeysFile,
  catalogue: stack.tools.consulVersions.map((version, i, all) => ({
    version,
    status: i === all.length - 1 ? ('RECOMMENDED' as const) : ('AVAILABLE' as const),
  })),
  auth: {
    armCertificateThumbprints: [],
    jwtIssuers: [],
    operatorTokens: [{ name: 'crash-test', sha256: sha256Hex(token), role: 'admin', subscriptions: '*' }],
  },
};
let worker: RunningWorker | undefined;
let connection: Connection | undefined;
const children: ChildProcess[] = [];

beforeAll(async () => {
  worker = await startWorker({
    temporal: stack.temporal,
    db: db(),
    taskQueue,
    payloadCodec: new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys)),
  });
  connection = await Connection.connect({ address: stack.temporal.address });
});
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await worker?.shutdown();
  await connection?.close();
});

/** The API as a process; resolves with it and its REST URL once it listens. */
async function startApiProcess(env: Record<string, string> = {}): Promise<{ child: ChildProcess; restUrl: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'test', 'fixtures', 'api-process.ts')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, OUTBOX_TEST_API: JSON.stringify(settings), ...env },
  });
  children.push(child);
  const lines = createInterface({ input: child.stdout });
  const restUrl = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code, signal) => reject(new Error(`the API process exited (${signal ?? code}) before it listened`)));
    lines.on('line', (line) => {
      if (line.startsWith('{"restUrl"')) resolve((JSON.parse(line) as { restUrl: string }).restUrl);
    });
  });
  return { child, restUrl };
}

it('the API SIGKILLed between the commit and the start loses nothing: restarted, its relay starts the one workflow and the create ends Succeeded', async () => {
  const sub = randomUUID();
  await putSubscription(db(), { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
  const path = clusterPath(sub, 'rg', `crash-${randomUUID().slice(0, 6)}`);
  const key = path.toLowerCase();

  // The first API dies right after the create's transaction committed.
  const first = await startApiProcess({ [CRASH_AFTER_COMMIT_HOOK]: '1' });
  const exited = new Promise<string | null>((resolve) => first.child.once('exit', (_code, signal) => resolve(signal)));
  const put = await httpCall(`${first.restUrl}${path}?${V}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify(clusterBody(stack.tools.consulVersions.at(-1)!, '10.77.0.0/16')),
  }).catch((err: unknown) => err);
  expect(put).toBeInstanceOf(Error); // no answer: the process died mid-request
  expect(await exited).toBe('SIGKILL');

  // Committed: the cluster, its create operation (Accepted) and the start request; no workflow.
  const [op] = await listOperations(db(), key);
  expect(op).toMatchObject({ kind: 'create', status: 'Accepted' });
  expect((await getCluster(db(), key))?.provisioningState).toBe('Accepted');
  expect((await pendingStartRequests(db(), taskQueue)).map((r) => r.operationId)).toEqual([op!.operationId]);
  const client = new Client({
    connection: connection!,
    namespace: stack.temporal.namespace,
    dataConverter: { payloadCodecs: [new AesGcmPayloadCodec(parsePayloadKeys(payloadKeys))] },
  });
  const runs = async () => {
    const found: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${op!.workflowId}'` })) found.push(w.runId);
    return found;
  };
  expect(await runs()).toEqual([]);

  // The API again: its relay starts the workflow; the worker runs it to its end.
  const second = await startApiProcess();
  await vi.waitFor(async () => expect((await getOperation(db(), op!.operationId))?.status).toBe('Succeeded'), {
    timeout: 90_000,
    interval: 250,
  });
  expect((await getCluster(db(), key))?.provisioningState).toBe('Succeeded');
  expect(await pendingStartRequests(db(), taskQueue)).toEqual([]);
  // Exactly one workflow run for the operation (visibility catches up with the run's close).
  await vi.waitFor(async () => expect(await runs()).toHaveLength(1), { timeout: 30_000, interval: 250 });
  // The operation reads Succeeded once the workflow's last activity wrote it; the run itself closes
  // a workflow task later.
  await vi.waitFor(async () => expect((await client.workflow.getHandle(op!.workflowId).describe()).status.name).toBe('COMPLETED'), {
    timeout: 30_000,
    interval: 250,
  });
  expect(await runs()).toHaveLength(1);
  expect(await listOperations(db(), key)).toHaveLength(1);
  second.child.kill('SIGTERM');
}, 180_000);
