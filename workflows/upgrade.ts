// The upgrade workflow: inside the cluster's maintenance window unless forced (an SRE may also
// defer or force it by signal; the wait holds no lock: the operation is Scheduled until the
// window opens and it claims the lock), a snapshot (kept 7 days), then one server at a time, followers first and the leader last after handing leadership
// to an upgraded server. Each server's manifest names the new version; host-manager swaps the
// agent in place; the next server waits until this one is back, on the new version, and the
// cluster passes the health gate. A failed gate stops the upgrade (the cluster stays healthy on
// mixed patch versions) and fails the operation with the reason. After a crash the workflow
// resumes from its history: servers already done are not touched again.
import { CancellationScope, condition, defineSignal, proxyActivities, patched, setHandler, sleep, uuid4 } from '@temporalio/workflow';
import type { SnapshotActivities } from '../activities/snapshots.js';
import { nextWindow } from '../domain/maintenance-window.js';
import { UPGRADE_SIGNAL, type ClusterOperationInput } from '../contract/temporal.js';
import { gate, HEARTBEAT_TIMEOUT, operation, quick, retry, store } from './lifecycle.js';
import { continueAsNewWhenLong } from './history-budget.js';
import { workerFailure } from '../contract/errors.js';

const records = proxyActivities<SnapshotActivities>({ startToCloseTimeout: '1 minute', retry: { ...retry, maximumAttempts: 10 } });
const transfer = proxyActivities<SnapshotActivities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  // Vault, the store or Blob down for a minute or two is waited out (2+4+8+16+32+60+60 s).
  retry: { ...retry, maximumAttempts: 8 },
});

/** How often a ready upgrade asks again for the lock another operation holds. */
const CLAIM_RETRY = '15 seconds';
const CLAIMS_LOCK_PATCH = 'upgrade-waits-scheduled';

/** SRE controls: start now whatever the window says, or hold the operation until a time. */
export const forceSignal = defineSignal(UPGRADE_SIGNAL.force);
export const deferSignal = defineSignal<[string]>(UPGRADE_SIGNAL.defer);

export async function upgradeCluster(input: ClusterOperationInput): Promise<void> {
  let forced = input.params?.force === true;
  let deferredUntil = 0;
  let changed = false;
  setHandler(forceSignal, () => {
    forced = true;
    changed = true;
  });
  setHandler(deferSignal, (until: string) => {
    const t = Date.parse(until);
    if (!Number.isNaN(t)) deferredUntil = t;
    changed = true;
  });
  await operation(input, async (step) => {
    const target = input.params?.targetVersion;
    if (!target) throw workerFailure('UpgradeTargetMissing', 'the upgrade has no target version');
    const generation = Date.now();
    await step('plan', 2);
    let plan = await quick.loadClusterPlan({ resourceKey: input.resourceKey });
    let servers = await quick.loadClusterServers({ resourceKey: input.resourceKey });
    const { maintenanceWindow } = plan;
    // Wait for the window (or a deferral to pass) unless forced.
    for (;;) {
      const now = Date.now();
      if (forced) break;
      if (deferredUntil > now) {
        await step(`deferred until ${new Date(deferredUntil).toISOString()}`, 8);
        changed = false;
        await condition(() => changed || forced, deferredUntil - now);
        continue;
      }
      if (!maintenanceWindow) break;
      const window = nextWindow(maintenanceWindow, new Date(now));
      if (window.start.getTime() <= now) break;
      await step(`waiting for the maintenance window at ${window.start.toISOString()}`, 8);
      changed = false;
      await condition(() => changed || forced, window.start.getTime() - now);
    }
    // Waiting held nothing (the operation is Scheduled): certificate rotation and snapshots ran
    // meanwhile. Now take the one-operation lock, after whatever holds it ends. (Upgrades
    // recorded before Scheduled existed hold the lock already and replay without this.)
    if (patched(CLAIMS_LOCK_PATCH)) {
      for (;;) {
        const claim = await store.claimOperation({ operationId: input.operationId });
        if (claim.claimed) break;
        if (claim.ended) throw workerFailure('OperationEnded', claim.reason);
        await step(claim.reason, 8);
        await sleep(CLAIM_RETRY);
        // A lock held for hours: the next run waits on (and looks at the window again), keeping
        // an SRE's force.
        await continueAsNewWhenLong<typeof upgradeCluster>({ ...input, params: { ...input.params, force: forced } });
      }
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
