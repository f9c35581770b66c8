// docs/runbooks/worker-backlog.md on the real stack. The control plane starts with no worker
// (externalWorker), so a create (the stand-in workflow: no cluster is built) waits in Temporal.
// The runbook's diagnosis runs as written: the store shows the create Accepted with no step, the
// API's counters show it started and not ended, and the task queue has no pollers and a backlog.
// Then a worker starts (what adding a replica does) with its ops server and the Temporal SDK's
// metrics; the runbook's worker check finds it ready and polling, the backlog drains and the create
// ends Succeeded.
import { randomUUID } from 'node:crypto';
import { afterAll, expect, inject, it } from 'vitest';
import { startOpsServer, type RunningOpsServer } from '../../apps/worker/src/ops-server.js';
import { startWorker, type RunningWorker } from '../../apps/worker/src/worker.js';
import { getOperation } from '../../store/operations.js';
import { putResultUrl, useControlPlane, useTemporalSdkMetrics } from '../support/control-plane-fixture.js';
import { arm, followLocation } from '../support/lifecycle.js';
import { runbookEnvironment, REPO_ROOT } from './environment.js';
import { openRunbook } from './runbook.js';

const stack = inject('stack');
// This process exports the Temporal SDK's metrics, as a worker process does.
const sdkMetrics = useTemporalSdkMetrics();
const cp = useControlPlane(stack, () => ({ externalWorker: true }), {
  requirePostgres: 'the runbooks use psql on the store database',
});
let worker: RunningWorker | undefined;
let ops: RunningOpsServer | undefined;
afterAll(async () => {
  await ops?.close();
  await worker?.shutdown();
});

interface TaskQueueView {
  pollers: Array<{ taskQueueType: string; identity: string }>;
  backlog: Array<{ taskQueueType: string; approximateBacklogCount: number }>;
}

it('shows no pollers and a backlog while no worker runs; a started worker is ready and drains it', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-runbook/providers/HCS.Consul/clusters/waiting-${randomUUID().slice(0, 6)}`;
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion: stack.tools.consulVersions.at(-1)!, serverCount: 1, network: { cidr: '10.93.0.0/16' } },
  });
  expect(put.status, put.body).toBe(201);
  const operationId = String(put.headers['azure-asyncoperation']).split('/operationStatuses/')[1]!.split('?')[0]!;

  const { env } = runbookEnvironment(stack, cp, id);
  const book = openRunbook('worker-backlog.md', { ...env, HCS_WORKER_OPS: '' }, REPO_ROOT);

  const waiting = await book.run('waiting-operations');
  expect(waiting.stdout).toMatch(/^\s*create\s+\|\s+Accepted\s+\|\s+-\s+\|\s+\d+\s+\|\s+\d+\s*$/m);
  const metrics = await book.run('api-metrics');
  expect(metrics.stdout).toMatch(/^hcs_operations_started_total\{kind="create"\} [1-9]\d*$/m);
  expect(metrics.stdout).not.toMatch(/^hcs_operations_ended_total\{kind="create"/m);

  // Temporal's backlog statistics follow the queue within seconds: ask until the create's workflow task shows.
  let queue: TaskQueueView | undefined;
  for (let deadline = Date.now() + 30_000; ;) {
    queue = JSON.parse((await book.run('task-queue')).stdout) as TaskQueueView;
    const workflowBacklog = queue.backlog.find((b) => b.taskQueueType === 'workflow')?.approximateBacklogCount ?? 0;
    if (workflowBacklog >= 1 || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  expect(queue.pollers).toEqual([]);
  expect(queue.backlog.find((b) => b.taskQueueType === 'workflow')?.approximateBacklogCount, JSON.stringify(queue)).toBeGreaterThanOrEqual(
    1,
  );
  expect((await getOperation(cp.db, operationId))?.status).toBe('Accepted');

  // A worker replica comes up, with its ops server.
  worker = await startWorker({ temporal: stack.temporal, db: cp.db, taskQueue: cp.taskQueue, payloadCodec: cp.payloadCodec });
  ops = await startOpsServer({ host: '127.0.0.1', port: 0, db: cp.db, worker, temporalMetricsAddress: sdkMetrics.address });
  const health = await book.run('worker-health', { HCS_WORKER_OPS: ops.url });
  expect(health.stdout).toContain(`== ${ops.url}`);
  expect(health.stdout).toMatch(/"ready":true.* \(HTTP 200\)/);
  expect(health.stdout).toMatch(/^temporal_num_pollers\{.*poller_type="workflow_task".*\} [1-9]/m);

  const drained = await book.run('drained');
  expect(drained.stdout).toMatch(/^workflow pollers: [1-9]\d*, backlog: 0$/m);
  const done = await followLocation(cp, putResultUrl(put), 60_000);
  expect(done.status, done.body).toBe(200);
  expect((await getOperation(cp.db, operationId))?.status).toBe('Succeeded');
  expect(book.unrun()).toEqual([]);
}, 300_000);
