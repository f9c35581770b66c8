// The upgrade workflow: inside the cluster's maintenance window unless forced (an SRE may also
// defer or force it by signal; the wait holds no lock: the operation is Scheduled until the
// window opens and it claims the lock), a snapshot (kept 7 days), then one server at a time, followers first and the leader last after handing leadership
// to an upgraded server. Each server's manifest names the new version; host-manager swaps the
// agent in place; the next server waits until this one is back, on the new version, and the
// cluster passes the health gate. A failed gate stops the upgrade (the cluster stays healthy on
// mixed patch versions) and fails the operation with the reason. After a crash the workflow
// resumes from its history: servers already done are not touched again.
import { CancellationScope, patched, proxyActivities, uuid4 } from '@temporalio/workflow';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { gate, HEARTBEAT_TIMEOUT, operation, quick, store } from './lifecycle.js';
import { heartbeatingRetry } from '../contract/retry.js';
import { continueAsNewWhenLong } from './history-budget.js';
import { workerFailure } from '../contract/errors.js';
import { maintenanceControls } from './maintenance-window.js';

const records = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: heartbeatingRetry(10),
});
const transfer = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  // Vault, the store or Blob down for a minute or two is waited out (2+4+8+16+32+60+60 s).
  retry: heartbeatingRetry(8),
});

const CLAIMS_LOCK_PATCH = 'upgrade-waits-scheduled';

/** The force and defer signals (maintenance-window.ts), named here for the upgrade's callers. */
export { deferSignal, forceSignal } from './maintenance-window.js';

export async function upgradeCluster(input: ClusterOperationInput): Promise<void> {
  const controls = maintenanceControls(input.params?.force === true);
  await operation(input, async (step) => {
    const target = input.params?.targetVersion;
    if (!target) throw workerFailure('UpgradeTargetMissing', 'the upgrade has no target version');
    const generation = Date.now();
    await step('plan', 2);
    let plan = await quick.loadClusterPlan({ resourceKey: input.resourceKey });
    let servers = await quick.loadClusterServers({ resourceKey: input.resourceKey });
    // Wait for the window (or a deferral to pass) unless forced.
    await controls.waitForWindow(step, plan.maintenanceWindow, 8);
    // Waiting held nothing (the operation is Scheduled): certificate rotation and snapshots ran
    // meanwhile. Now take the one-operation lock, after whatever holds it ends. (Upgrades
    // recorded before Scheduled existed hold the lock already and replay without this.)
    if (patched(CLAIMS_LOCK_PATCH)) {
      // A lock held for hours: the next run waits on (and looks at the window again), keeping
      // an SRE's force.
      await controls.claimLock(input, step, 8, () =>
        continueAsNewWhenLong<typeof upgradeCluster>({ ...input, params: { ...input.params, force: controls.forced } }),
      );
      // What the servers are now, not when the request came (days may have passed).
      plan = await quick.loadClusterPlan({ resourceKey: input.resourceKey });
      servers = await quick.loadClusterServers({ resourceKey: input.resourceKey });
    }

    // The snapshot is taken right before the first change, not days earlier when the request came.
    // Type UPGRADE: retention removes it 7 days after it was taken (upgrades are the customer's
    // to ask for, so their snapshots must not pile up).
    await step('snapshot', 9);
    const before = uuid4();
    await records.recordSnapshotRequest({
      resourceKey: input.resourceKey,
      snapshotId: before,
      kind: 'UPGRADE',
      name: `before upgrade to ${target}`,
    });
    try {
      await transfer.saveClusterSnapshot({ resourceKey: input.resourceKey, snapshotId: before });
    } catch (err) {
      await CancellationScope.nonCancellable(() => records.failClusterSnapshot({ resourceKey: input.resourceKey, snapshotId: before }));
      throw err;
    }

    const { address: leader } = await quick.findLeader({ plan, servers });
    const order = [...servers.filter((s) => s.address !== leader), ...servers.filter((s) => s.address === leader)];
    for (const [i, server] of order.entries()) {
      await step(`upgrade ${server.name} (${i + 1}/${order.length})`, 10 + Math.round((85 * i) / order.length));
      // A single server cannot hand leadership to anyone: its upgrade is a short outage.
      if (server.address === leader && servers.length > 1) {
        const upgraded = order.slice(0, i).at(-1);
        await gate.transferLeadership({ plan, servers, from: server.address, ...(upgraded ? { to: upgraded.address } : {}) });
      }
      await quick.setServerVersion({ plan, server, version: target, generation });
      await gate.waitForServerVersion({ plan, servers, server, version: target });
    }
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}
