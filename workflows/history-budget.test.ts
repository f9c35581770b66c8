// Long waits continue as new (history-budget.ts), on the real Temporal server with stand-in
// activities (fakes of our own activity interfaces): an upgrade waiting for the one-operation lock
// and a delete waiting for the operations it cancelled each go on in a new run once their history
// passes the budget, and the operation ends once - never recorded as failed on the way.
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import type { DeleteQueueActivities } from '../activities/delete-queue.js';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { StoreActivities } from '../activities/store.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import type { ClusterPlan } from '../domain/cluster-plan.js';
import { useTemporalClient, useWorkflowWorker } from '../test/support/control-plane-fixture.js';
import { HISTORY_BUDGET_EVENTS } from './history-budget.js';

const stack = inject('stack');
const taskQueue = `history-budget-${randomUUID()}`;

interface World {
  released: boolean;
  claims: number;
  completed: number;
  failed: string[];
  versionsSet: string[];
}
const worlds = new Map<string, World>();
const world = (resourceKey: string) => worlds.get(resourceKey)!;
const plan = (resourceKey: string) => ({ resourceKey, name: 'budget', serverCount: 1 }) as unknown as ClusterPlan;
const servers = [{ index: 0, name: 's-0', zone: '1', address: '127.9.1.2' }];
const resourceKeyOf = new Map<string, string>();

const store: Partial<StoreActivities> = {
  recordProgress: async () => undefined,
  // The lock stays with another operation until the test releases it.
  claimOperation: async (a) => {
    const w = world(resourceKeyOf.get(a.operationId)!);
    w.claims++;
    return w.released ? { claimed: true } : { claimed: false, ended: false, reason: 'waiting for the snapshot operation to end' };
  },
  completeOperation: async (a) => void world(a.resourceKey).completed++,
  completeDelete: async (a) => void world(a.resourceKey).completed++,
  failOperation: async (a) => void world(a.resourceKey).failed.push(`${a.status}: ${a.error.message}`),
};
const cluster: Partial<ClusterActivities> = {
  loadClusterPlan: async (a) => plan(a.resourceKey),
  loadClusterServers: async () => servers,
  findLeader: async () => ({ address: servers[0]!.address }),
  setServerVersion: async (a) => (world(a.plan.resourceKey).versionsSet.push(a.version), { changed: true }),
  waitForServerVersion: async () => ({ seconds: 0 }),
};
const snapshots: Partial<SnapshotActivities> = {
  recordSnapshotRequest: async () => undefined,
  saveClusterSnapshot: async () => ({ sizeBytes: 1, consulVersion: '1.22.5' }),
  failClusterSnapshot: async () => ({ failed: true }),
};
/** The delete's queue: nothing to cancel, but the lock is not free until released. */
const deleteQueue: Partial<DeleteQueueActivities> = {
  claimClusterForDelete: async (a) => {
    const w = world(a.resourceKey);
    w.claims++;
    return w.released ? { claimed: true } : { claimed: false, ended: false, waitingFor: [] };
  },
  waitForOperationsToEnd: async () => false,
};

useWorkflowWorker(stack, taskQueue, () => ({ ...store, ...cluster, ...snapshots, ...deleteQueue }));
const client = useTemporalClient(stack);

function newOperation(kind: 'upgrade' | 'delete', params?: ClusterOperationInput['params']): ClusterOperationInput {
  const resourceKey = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/budget`;
  const operationId = randomUUID();
  worlds.set(resourceKey, { released: false, claims: 0, completed: 0, failed: [], versionsSet: [] });
  resourceKeyOf.set(operationId, resourceKey);
  return {
    operationId,
    kind,
    resourceKey,
    resourceId: resourceKey,
    subscriptionId: randomUUID(),
    correlationId: randomUUID(),
    ...(params ? { params } : {}),
  };
}

/** The runs of a workflow id, oldest first, with their event counts and how each ended. */
async function runs(workflowId: string): Promise<Array<{ events: number; last: string }>> {
  const out: Array<{ events: number; last: string }> = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    const h = await client.workflow.getHandle(workflowId, w.runId).fetchHistory();
    const last = h.events?.at(-1)?.eventType;
    out.push({ events: h.events?.length ?? 0, last: last == null ? 'none' : temporal.api.enums.v1.EventType[last] });
  }
  return out.reverse();
}

const until = async (what: string, ok: () => boolean | Promise<boolean>, ms = 60_000) => {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe('long waits continue as new', () => {
  it('an upgrade waiting hours for the lock goes on in a new run with the same target and ends once', async () => {
    const input = newOperation('upgrade', { targetVersion: '1.22.7' });
    const w = world(input.resourceKey);
    const handle = await client.workflow.start('upgradeCluster', { taskQueue, workflowId: `budget-${input.operationId}`, args: [input] });
    await until('the first claim', () => w.claims >= 1);
    // Hours of waiting in seconds: the history grows past the budget by signals an SRE could send
    // (a deferral to a time already past changes nothing once the window has opened).
    for (let i = 0; i < HISTORY_BUDGET_EVENTS; i += 50)
      await Promise.all(Array.from({ length: 50 }, () => handle.signal('defer', '1970-01-01T00:00:00Z')));
    await until('a second run', async () => (await runs(handle.workflowId)).length >= 2, 90_000);
    w.released = true;
    await handle.result();
    const all = await runs(handle.workflowId);
    expect(all[0]!.last).toMatch(/CONTINUED_AS_NEW/);
    expect(all.at(-1)!.last).toMatch(/COMPLETED/);
    expect(all.at(-1)!.events).toBeLessThan(HISTORY_BUDGET_EVENTS);
    expect(w).toMatchObject({ completed: 1, failed: [], versionsSet: ['1.22.7'] });
  }, 300_000);

  it('a delete waiting on operations it cancelled goes on in a new run and completes once', async () => {
    const input = newOperation('delete');
    const w = world(input.resourceKey);
    const handle = await client.workflow.start('clusterOperationStandIn', {
      taskQueue,
      workflowId: `budget-${input.operationId}`,
      args: [input],
    });
    // Each round (claim, wait) adds events: the budget is passed within a few dozen rounds.
    await until('a second run', async () => (await runs(handle.workflowId)).length >= 2, 120_000);
    w.released = true;
    await handle.result();
    const all = await runs(handle.workflowId);
    expect(all.slice(0, -1).every((r) => /CONTINUED_AS_NEW/.test(r.last))).toBe(true);
    expect(all.every((r) => r.events <= HISTORY_BUDGET_EVENTS + 20)).toBe(true);
    expect(w).toMatchObject({ completed: 1, failed: [] });
  }, 300_000);
});
