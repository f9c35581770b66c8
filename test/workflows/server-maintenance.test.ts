// The restartServer and repairServer workflows' own logic, on the real Temporal server with
// stand-in activities (recording fakes of our own activity interfaces): the maintenance window is
// waited for unless forced (and a force signal ends the wait), the lock is claimed before any
// change, a leader hands leadership on before its restart, a repair checks the quorum first and
// refuses when the others hold none, an unknown server fails the operation. The real activities
// run end to end in test/lifecycle/server-maintenance.test.ts.
import { WorkflowFailedError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import type { ClusterActivities } from '../../activities/cluster-activities.js';
import type { StoreActivities } from '../../activities/store.js';
import { workerFailure } from '../../contract/errors.js';
import { UPGRADE_SIGNAL, type ClusterOperationInput } from '../../contract/temporal.js';
import type { ClusterPlan, ServerInfo } from '../../domain/cluster-plan.js';
import { WEEKDAYS, type MaintenanceWindow } from '../../domain/maintenance-window.js';
import { useTemporalClient, useWorkflowWorker } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const taskQueue = `server-maintenance-logic-${randomUUID()}`;

interface World {
  calls: string[];
  progress: string[];
  leader: string;
  /** No server answers with a leader (findLeader fails as the real one does). */
  noLeader?: boolean;
  window?: MaintenanceWindow;
  quorumFails?: boolean;
  completed: boolean;
  failed?: { status: string; error: { code: string; message: string } };
}
const worlds = new Map<string, World>();
const byOperation = new Map<string, World>();
const world = (resourceKey: string) => worlds.get(resourceKey)!;
const servers: ServerInfo[] = [0, 1, 2].map((index) => ({
  index,
  name: `s-${index}`,
  zone: String(index + 1),
  address: `127.9.1.${index + 2}`,
}));

const plan = (resourceKey: string): ClusterPlan => ({
  resourceKey,
  name: 'maint',
  location: 'westeurope',
  datacenter: 'dc1',
  serverCount: 3,
  consulVersion: '1.22.7',
  cidr: '10.0.0.0/16',
  publicEndpoint: false,
  owner: { clusterId: '0'.repeat(32) },
  infraResourceGroup: 'rg',
  fqdn: 'maint.example',
  container: 'cluster-maint',
  terraformState: 'hcs_maint',
  ...(world(resourceKey).window ? { maintenanceWindow: world(resourceKey).window! } : {}),
});

const store: Partial<StoreActivities> = {
  recordProgress: async (a) => void byOperation.get(a.operationId)?.progress.push(`${a.step}:${a.percentComplete}`),
  claimOperation: async (a) => (byOperation.get(a.operationId)!.calls.push('claim'), { claimed: true }),
  completeOperation: async (a) => void (world(a.resourceKey).completed = true),
  failOperation: async (a) => void (world(a.resourceKey).failed = { status: a.status, error: a.error }),
};

const activities: Partial<ClusterActivities> = {
  loadClusterPlan: async (a) => (world(a.resourceKey).calls.push('plan'), plan(a.resourceKey)),
  loadClusterServers: async (a) => (world(a.resourceKey).calls.push('servers'), servers),
  findLeader: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push('findLeader');
    if (w.noLeader) throw workerFailure('ClusterNotHealthy', 'no server of the cluster answers with a leader');
    return { address: w.leader };
  },
  transferLeadership: async (a) => (world(a.plan.resourceKey).calls.push(`transfer:${a.from}`), { leader: 'other' }),
  restartServerInstance: async (a) => (world(a.plan.resourceKey).calls.push(`restart:${a.server.name}`), { instanceId: '0' }),
  reimageServerInstance: async (a) => (world(a.plan.resourceKey).calls.push(`reimage:${a.server.name}`), { instanceId: '0' }),
  checkQuorumWithout: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push(`quorum:${a.server.name}`);
    if (w.quorumFails) throw workerFailure('RepairWouldLoseQuorum', 'without s-1 the cluster has 1 live server(s) with a leader');
    return { alive: 2 };
  },
  pruneRaftPeers: async (a) => (world(a.plan.resourceKey).calls.push(`prune:${a.servers.length}`), { removed: [] }),
  waitForServerBack: async (a) => (world(a.plan.resourceKey).calls.push(`back:${a.server.name}`), { seconds: 1 }),
};

useWorkflowWorker(stack, taskQueue, () => ({ ...store, ...activities }));
const client = useTemporalClient(stack);

function begin(type: 'restartServer' | 'repairServer', params: ClusterOperationInput['params'], w: Partial<World> = {}) {
  const resourceKey = `/subscriptions/x/resourcegroups/rg/providers/hcs.consul/clusters/${randomUUID()}`;
  const operationId = randomUUID();
  const state: World = { calls: [], progress: [], leader: servers[0]!.address, completed: false, ...w };
  worlds.set(resourceKey, state);
  byOperation.set(operationId, state);
  const input: ClusterOperationInput = {
    operationId,
    kind: type === 'restartServer' ? 'restart' : 'repair',
    resourceKey,
    resourceId: resourceKey,
    subscriptionId: 'x',
    correlationId: 'c',
    params: params ?? {},
  };
  return { w: state, start: () => client.workflow.start(type, { taskQueue, workflowId: `maint-${operationId}`, args: [input] }) };
}

/** A daily window that opens about twelve hours from now (closed now). */
function closedWindow(): MaintenanceWindow {
  const opens = new Date(Date.now() + 12 * 3_600_000);
  const hh = String(opens.getUTCHours()).padStart(2, '0');
  const mm = String(opens.getUTCMinutes()).padStart(2, '0');
  return { days: [...WEEKDAYS], startTime: `${hh}:${mm}`, durationHours: 1, timeZone: 'UTC' };
}

it('restartServer, forced: claims the lock, the leader hands leadership on, the VM restarts, the server is waited for; progress rises', async () => {
  const { w, start } = begin('restartServer', { serverIndex: 0, force: true });
  await (await start()).result();
  expect(w.calls).toEqual(['plan', 'claim', 'plan', 'servers', 'findLeader', `transfer:${servers[0]!.address}`, 'restart:s-0', 'back:s-0']);
  expect(w.completed).toBe(true);
  const percents = w.progress.map((p) => Number(p.split(':').at(-1)));
  expect(percents).toEqual([...percents].sort((a, b) => a - b));
  expect(w.progress.map((p) => p.slice(0, p.lastIndexOf(':')))).toEqual([
    'plan',
    'servers',
    'leadership',
    'restart s-0',
    'wait for s-0 to rejoin',
  ]);
});

it('restartServer of a follower does not move leadership', async () => {
  const { w, start } = begin('restartServer', { serverIndex: 2, force: true });
  await (await start()).result();
  expect(w.calls.filter((c) => c.startsWith('transfer'))).toEqual([]);
  expect(w.calls.slice(-2)).toEqual(['restart:s-2', 'back:s-2']);
});

it('restartServer, not forced, outside the window: waits holding no lock and touching nothing until an SRE forces it', async () => {
  const { w, start } = begin('restartServer', { serverIndex: 1 }, { window: closedWindow() });
  const handle = await start();
  await expect.poll(() => w.progress.some((p) => p.startsWith('waiting for the maintenance window at ')), { timeout: 20_000 }).toBe(true);
  await new Promise((r) => setTimeout(r, 1_000));
  expect(w.calls).toEqual(['plan']);
  await handle.signal(UPGRADE_SIGNAL.force);
  await handle.result();
  expect(w.calls).toEqual(['plan', 'claim', 'plan', 'servers', 'findLeader', 'restart:s-1', 'back:s-1']);
});

it('repairServer: checks the quorum without the server, reimages it, prunes dead raft peers, waits for it to join', async () => {
  const { w, start } = begin('repairServer', { serverIndex: 1, force: true });
  await (await start()).result();
  expect(w.calls).toEqual(['plan', 'claim', 'plan', 'servers', 'quorum:s-1', 'reimage:s-1', 'prune:3', 'back:s-1']);
  expect(w.completed).toBe(true);
});

it('repairServer when the other servers hold no quorum: fails RepairWouldLoseQuorum and reimages nothing', async () => {
  const { w, start } = begin('repairServer', { serverIndex: 1, force: true }, { quorumFails: true });
  const err = await (await start()).result().catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(w.failed).toMatchObject({ status: 'Failed', error: { code: 'RepairWouldLoseQuorum' } });
  expect(w.calls.some((c) => c.startsWith('reimage'))).toBe(false);
});

it('a server index the cluster no longer has fails ServerNotFound naming the servers, touching no VM', async () => {
  const { w, start } = begin('restartServer', { serverIndex: 7, force: true });
  await (await start()).result().catch(() => undefined);
  expect(w.failed).toMatchObject({ status: 'Failed', error: { code: 'ServerNotFound' } });
  expect(w.failed!.error.message).toContain('servers: 0, 1, 2');
  expect(w.calls.some((c) => c.startsWith('restart') || c.startsWith('reimage'))).toBe(false);
});

it('restartServer of a cluster without a leader (its quorum lost) asks for one briefly, then restarts the server anyway', async () => {
  const { w, start } = begin('restartServer', { serverIndex: 1, force: true }, { noLeader: true });
  await (await start()).result();
  // Three attempts to find a leader (the real one retries for minutes), no handover, the restart.
  expect(w.calls).toEqual(['plan', 'claim', 'plan', 'servers', 'findLeader', 'findLeader', 'findLeader', 'restart:s-1', 'back:s-1']);
  expect(w.completed).toBe(true);
}, 60_000);
