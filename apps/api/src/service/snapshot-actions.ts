// Snapshot actions that start an operation: createSnapshot (MANUAL), deleteSnapshot and
// restoreSnapshot. startAction checks role, subscription state, readiness and the one-operation
// rule; here the request itself is checked first (name, snapshot id, takeSnapshotFirst), and
// again inside the operation's transaction, so an unknown snapshot is a 404 and one that cannot
// be restored a 409 before any workflow starts. The workflows do the work (workflows/snapshots.ts).
import { runningConsulVersion } from '../../../../domain/versions.js';
import { randomUUID } from 'node:crypto';
import { detail, throwIfAny, describeValue } from '../../../../domain/errors.js';
import type { ClusterRecord } from '../../../../store/clusters.js';
import type { SqlExecutor } from '../../../../store/database.js';
import { getSnapshot, insertSnapshot, type SnapshotRecord } from '../../../../store/snapshots.js';
import { restoreRefusal } from '../../../../domain/restore-rules.js';
import type { RequestContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import type { actionHandlers } from './actions.js';
import { requireRole } from './authorize.js';
import type { ClusterPath } from './cluster-path.js';
import type { clusterHandlers } from './clusters.js';
import { requireSnapshotQuota } from './quotas.js';

const MAX_SNAPSHOT_NAME = 100;

type Actions = ReturnType<typeof actionHandlers>;

export function snapshotActionHandlers(deps: {
  startAction: ReturnType<typeof clusterHandlers>['startAction'];
  /** The snapshot as the API shows it (404 for an unknown id); also the pre-check of every action. */
  getSnapshot: Actions['getSnapshot'];
  /** MANUAL snapshot records a cluster may have (service/quotas.ts). */
  manualSnapshotsPerCluster: number;
}) {
  /** Inside the operation's transaction: the snapshot still exists (it may have gone since the pre-check). */
  async function existing(tx: SqlExecutor, cluster: ClusterRecord, snapshotId: string): Promise<SnapshotRecord> {
    const s = await getSnapshot(tx, cluster.resourceKey, snapshotId);
    if (!s) throw notFound(`The snapshot '${snapshotId}' of cluster '${cluster.name}'`);
    return s;
  }

  return {
    /** Takes a MANUAL snapshot now, within the per-cluster cap; answers with the operation and the PENDING snapshot. */
    async createSnapshot(req: ClusterPath & { name?: unknown }, ctx: RequestContext) {
      requireRole(ctx, 'operator');
      const snapshotId = randomUUID();
      const name = snapshotName(req.name);
      const { operation } = await deps.startAction(req, ctx, 'snapshot', {
        params: { snapshotId },
        write: async (tx, cluster, operationId) => {
          await requireSnapshotQuota(tx, cluster, deps.manualSnapshotsPerCluster);
          await insertSnapshot(tx, {
            operationId,
            snapshotId,
            resourceKey: cluster.resourceKey,
            name,
            kind: 'MANUAL',
            state: 'PENDING',
            sizeBytes: null,
            consulVersion: runningConsulVersion(cluster),
            finished: false,
          });
        },
      });
      const { snapshot } = await deps.getSnapshot({ ...req, snapshotId }, ctx);
      return { operation, snapshot };
    },

    /** Removes a snapshot's blob and record (an operation: the blob may be large). */
    async deleteSnapshot(req: ClusterPath & { snapshotId?: string }, ctx: RequestContext) {
      requireRole(ctx, 'operator');
      const snapshotId = await precheck(req, ctx);
      const { operation } = await deps.startAction(req, ctx, 'snapshotdelete', {
        params: { snapshotId },
        write: async (tx, cluster) => void (await existing(tx, cluster, snapshotId)),
      });
      return { operation };
    },

    /**
     * Restores a COMPLETED snapshot taken on the cluster's Consul version or an older one;
     * takes a snapshot first unless takeSnapshotFirst is false.
     */
    async restoreSnapshot(req: ClusterPath & { snapshotId?: string; takeSnapshotFirst?: unknown }, ctx: RequestContext) {
      requireRole(ctx, 'operator');
      throwIfAny(
        req.takeSnapshotFirst === undefined || typeof req.takeSnapshotFirst === 'boolean'
          ? []
          : [
              detail(
                'InvalidParameter',
                `takeSnapshotFirst must be true or false; got ${describeValue(req.takeSnapshotFirst)}`,
                'takeSnapshotFirst',
              ),
            ],
      );
      const snapshotId = await precheck(req, ctx);
      const { operation } = await deps.startAction(req, ctx, 'restore', {
        params: { snapshotId, takeSnapshotFirst: req.takeSnapshotFirst !== false },
        write: async (tx, cluster) => {
          const s = await existing(tx, cluster, snapshotId);
          if (s.state !== 'COMPLETED') {
            throw conflict('SnapshotNotReady', `The snapshot '${snapshotId}' is ${s.state}; only COMPLETED snapshots can be restored.`);
          }
          const refusal = restoreRefusal(s.consulVersion, runningConsulVersion(cluster));
          if (refusal) throw conflict('SnapshotVersionIncompatible', `The snapshot cannot be restored: ${refusal}.`);
        },
      });
      return { operation };
    },
  };

  /** 400 without a snapshot id, 404 for an unknown one (also while another operation runs). */
  async function precheck(req: ClusterPath & { snapshotId?: string }, ctx: RequestContext): Promise<string> {
    const { snapshot } = await deps.getSnapshot(req, ctx);
    return snapshot.id;
  }
}

/** The display name: 1 to 100 printable characters; "manual-<time>" when none is given. */
function snapshotName(name: unknown): string {
  if (name === undefined || name === null || name === '') return `manual-${new Date().toISOString()}`;
  throwIfAny(
    typeof name === 'string' && name.trim() !== '' && name.length <= MAX_SNAPSHOT_NAME && ![...name].some((ch) => ch.charCodeAt(0) < 0x20)
      ? []
      : [detail('InvalidSnapshotName', `name must be 1 to ${MAX_SNAPSHOT_NAME} printable characters; got ${describeValue(name)}`, 'name')],
  );
  return (name as string).trim();
}
