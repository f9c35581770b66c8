// Maintenance requests on one server (restartServer, repairServer): each waits for the cluster's
// maintenance window unless forced (maintenance-window.ts: Scheduled and holding no lock while it
// waits; force and defer by signal), then takes the one-operation lock and acts on the server's
// virtual machine through the compute API (activities/server-compute.ts):
// - restart: a leader hands leadership to another server first; the VM restarts on its disk.
// - repair: only while the other servers hold a quorum with a leader (the cluster's data survives
//   without this server); the VM is reimaged (a fresh disk, the same address), raft peers that
//   are no longer servers of the cluster are removed, and Consul replaces the old peer at the
//   same address when the new server joins.
// Both wait until the server is an alive member again and the cluster passes the health gate.
import { patched, proxyActivities } from '@temporalio/workflow';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import { workerFailure } from '../contract/errors.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { continueAsNewWhenLong } from './history-budget.js';
import { gate, HEARTBEAT_TIMEOUT, operation, quick, store, type Step } from './lifecycle.js';
import { heartbeatingRetry } from '../contract/retry.js';
import { maintenanceControls } from './maintenance-window.js';

/** VM actions: Azure's restart and reimage take minutes; the activity heartbeats meanwhile. */
const compute = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(5),
});

/** Who leads, asked briefly: a cluster without a leader does not hold up a restart for minutes. */
const leaderLookup = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(3),
});

export const RESTART_WITHOUT_LEADER_PATCH = 'restart-without-leader';

/** Restarts one server's VM (on its own disk) and waits until it is back and the cluster healthy. */
export async function restartServer(input: ClusterOperationInput): Promise<void> {
  const controls = maintenanceControls(input.params?.force === true);
  await operation(input, async (step) => {
    const { plan, servers, server } = await ready(input, step, controls, () =>
      continueAsNewWhenLong<typeof restartServer>({ ...input, params: { ...input.params, force: controls.forced } }),
    );
    // A leader hands leadership on first, so the restart is not an election. A cluster without a
    // leader (its quorum lost: the health check restarts a down server to win it back) is
    // restarted without waiting for one (histories from before this replay the old call).
    if (servers.length > 1) {
      await step('leadership', 20);
      const leader = patched(RESTART_WITHOUT_LEADER_PATCH)
        ? await leaderLookup.findLeader({ plan, servers }).then(
            (l) => l.address,
            () => '',
          )
        : (await quick.findLeader({ plan, servers })).address;
      if (leader === server.address) await gate.transferLeadership({ plan, servers, from: server.address });
    }
    await step(`restart ${server.name}`, 30);
    await compute.restartServerInstance({ plan, server });
    await step(`wait for ${server.name} to rejoin`, 60);
    await gate.waitForServerBack({ plan, servers, server });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

/** Reimages one server's VM and waits until the new server has joined and the cluster is healthy. */
export async function repairServer(input: ClusterOperationInput): Promise<void> {
  const controls = maintenanceControls(input.params?.force === true);
  await operation(input, async (step) => {
    const { plan, servers, server } = await ready(input, step, controls, () =>
      continueAsNewWhenLong<typeof repairServer>({ ...input, params: { ...input.params, force: controls.forced } }),
    );
    await step('quorum', 15);
    await quick.checkQuorumWithout({ plan, servers, server });
    await step(`reimage ${server.name}`, 25);
    await compute.reimageServerInstance({ plan, server });
    await step('raft peers', 55);
    await gate.pruneRaftPeers({ plan, servers });
    await step(`wait for ${server.name} to join`, 65);
    await gate.waitForServerBack({ plan, servers, server });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

/**
 * The common start: the plan, the window (unless forced), the lock, then the cluster's servers as
 * they are now (days may have passed) and the one asked for.
 */
async function ready(
  input: ClusterOperationInput,
  step: Step,
  controls: ReturnType<typeof maintenanceControls>,
  continueAsNew: () => Promise<void>,
): Promise<{ plan: ClusterPlan; servers: ServerInfo[]; server: ServerInfo }> {
  const ref = { resourceKey: input.resourceKey };
  await step('plan', 2);
  const { maintenanceWindow } = await quick.loadClusterPlan(ref);
  await controls.waitForWindow(step, maintenanceWindow, 5);
  await controls.claimLock(input, step, 5, continueAsNew);
  await step('servers', 10);
  const plan = await quick.loadClusterPlan(ref);
  const servers = await quick.loadClusterServers(ref);
  const index = input.params?.serverIndex;
  const server = servers.find((s) => s.index === index);
  if (!server)
    throw workerFailure(
      'ServerNotFound',
      `the cluster has no server ${String(index)} (servers: ${servers.map((s) => s.index).join(', ') || 'none'})`,
    );
  return { plan, servers, server };
}
