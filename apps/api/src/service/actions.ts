// Actions on a cluster (POST .../clusters/{name}/{action}): upgrade targets from the version
// catalogue, snapshot metadata from the store, the client configuration and root-token result
// the worker sealed for the API, and the requests that are operations: upgrade, certificate
// rotation, server restart and repair.
import { randomUUID } from 'node:crypto';
import { detail, throwIfAny, describeValue } from '../../../../domain/errors.js';
import { runningConsulVersion, checkUpgradeRequest, listUpgradeTargets, type CatalogueEntry } from '../../../../domain/versions.js';
import { getClusterServers, setSpecConsulVersion, type ClusterRecord } from '../../../../store/clusters.js';
import type { SqlDatabase } from '../../../../store/database.js';
import { getSnapshot, getSnapshotByOperation, pageSnapshots, renameSnapshot, type SnapshotRecord } from '../../../../store/snapshots.js';
import type { RequestContext } from '../context.js';
import { conflict, notFound } from '../errors.js';
import { rootTokenResultName, SECRET, sealContext } from '../../../../contract/secret-names.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { OperationRecord } from '../../../../store/operations.js';
import { getSecret } from '../../../../store/secrets.js';
import { serverHours } from '../../../../store/usage.js';
import { requireRole } from './authorize.js';
import { loadCluster, type ClusterPath } from './cluster-path.js';
import { takeSealedResult } from './sealed-result.js';
import { decodeNewestFirstToken, encodeNewestFirstToken, nextLink, pageSize, type PageRequest } from './paging.js';
import type { clusterHandlers } from './clusters.js';

const MAX_SNAPSHOT_NAME = 100;

/** The body of restartServer and repairServer. */
interface ServerRequest {
  serverIndex?: unknown;
  force?: unknown;
}

/** What is wrong with a server maintenance request, given the indexes of the cluster's servers. */
export function checkServerRequest(req: ServerRequest, indexes: readonly number[], kind: 'restart' | 'repair') {
  const list = indexes.join(', ');
  const i = req.serverIndex;
  return [
    ...(i === undefined || i === null
      ? [detail('MissingField', `serverIndex is required: the index of the server to ${kind} (this cluster has ${list}).`, 'serverIndex')]
      : typeof i !== 'number' || !Number.isInteger(i) || !indexes.includes(i)
        ? [
            detail(
              'InvalidServerIndex',
              `serverIndex ${describeValue(i)} is not a server of this cluster; its servers are ${list}.`,
              'serverIndex',
            ),
          ]
        : []),
    ...(kind === 'repair' && indexes.length === 1
      ? [
          detail(
            'RepairNeedsQuorum',
            'A cluster of one server cannot be repaired: reimaging its only server would lose its data. Restart it, or restore a snapshot into a new cluster.',
            'serverIndex',
          ),
        ]
      : []),
    ...(req.force === undefined || typeof req.force === 'boolean' ? [] : [detail('InvalidField', 'force must be true or false.', 'force')]),
  ];
}
export function actionHandlers(deps: {
  db: SqlDatabase;
  catalogue: CatalogueEntry[];
  sealer: SecretBox;
  /** Starts an operation on a provisioned cluster with every check (see clusterHandlers). */
  startAction: ReturnType<typeof clusterHandlers>['startAction'];
}) {
  const { db } = deps;

  const cluster = (ctx: RequestContext, p: ClusterPath): Promise<ClusterRecord> => loadCluster(db, ctx, p);

  const snapshotView = (s: SnapshotRecord) => ({
    id: s.snapshotId,
    name: s.name,
    type: `SNAPSHOT_TYPE_${s.kind}`,
    state: `SNAPSHOT_STATE_${s.state}`,
    ...(s.sizeBytes !== null ? { sizeBytes: s.sizeBytes } : {}),
    ...(s.consulVersion ? { consulVersion: s.consulVersion } : {}),
    requestedAt: s.requestedAt,
    ...(s.finishedAt ? { finishedAt: s.finishedAt } : {}),
    ...(s.restoredAt ? { restoredAt: s.restoredAt } : {}),
  });

  async function snapshot(c: ClusterRecord, snapshotId: unknown): Promise<SnapshotRecord> {
    throwIfAny(
      typeof snapshotId === 'string' && snapshotId !== ''
        ? []
        : [detail('MissingField', 'snapshotId is required: the id from listSnapshots.', 'snapshotId')],
    );
    const s = await getSnapshot(db, c.resourceKey, snapshotId as string);
    if (!s) throw notFound(`The snapshot '${String(snapshotId)}' of cluster '${c.name}'`);
    return s;
  }

  /** Opens a document the worker sealed for the API (see lib/secret-box.ts). */
  async function unseal(resourceKey: string, name: string): Promise<string | undefined> {
    const sealed = await getSecret(db, resourceKey, name);
    return sealed === undefined ? undefined : deps.sealer.open(sealed, sealContext(resourceKey, name));
  }

  /**
   * A maintenance request on one server: the caller may act on the cluster (404 outside their
   * subscriptions, 403 below operator), then the request is checked (400 naming the servers
   * there are), then it is recorded like any action (409 while another operation runs).
   */
  async function serverMaintenance(req: ClusterPath & ServerRequest, ctx: RequestContext, kind: 'restart' | 'repair') {
    requireRole(ctx, 'operator');
    const c = await cluster(ctx, req);
    const recorded = (await getClusterServers(db, c.resourceKey)).map((s) => s.index);
    const indexes = recorded.length ? recorded : [...Array(c.spec.properties.serverCount ?? 0).keys()];
    throwIfAny(checkServerRequest(req, indexes, kind));
    const { operation } = await deps.startAction(req, ctx, kind, {
      params: { serverIndex: req.serverIndex as number, force: req.force === true },
    });
    return operation;
  }

  return {
    /** Client agent configuration, CA bundle and Helm values; holds the gossip key, so operators only. */
    async listClientConfig(req: ClusterPath, ctx: RequestContext) {
      requireRole(ctx, 'operator');
      const c = await cluster(ctx, req);
      const doc = await unseal(c.resourceKey, SECRET.clientConfig);
      if (!doc)
        throw conflict(
          'ClusterNotReady',
          `The cluster has no client configuration yet (provisioningState ${c.provisioningState}); it is written when provisioning succeeds.`,
        );
      return JSON.parse(doc) as { clientConfigJson: string; caBundlePem: string; helmValuesYaml: string };
    },

    /** The result of a finished snapshot operation: the snapshot it took. */
    async snapshotResult(op: OperationRecord): Promise<{ snapshot: ReturnType<typeof snapshotView> }> {
      const s = await getSnapshotByOperation(db, op.resourceKey, op.operationId);
      if (!s) throw notFound(`The snapshot of operation ${op.operationId}`);
      return { snapshot: snapshotView(s) };
    },

    /** The result of a finished createRootToken operation: the new token, once (sealed-result.ts). */
    rootTokenResult(op: OperationRecord, ctx: RequestContext): Promise<{ accessorId: string; secretId: string }> {
      return takeSealedResult(deps, op, ctx, {
        name: rootTokenResultName(op.operationId),
        shown: 'a new root token',
        again: 'run createRootToken again',
      });
    },

    /**
     * upgrade: moves the cluster to another Consul version, one server at a time, inside its
     * maintenance window unless `force`. Minor and major upgrades happen only on this request.
     */
    async upgradeCluster(req: ClusterPath & { consulVersion?: unknown; force?: unknown }, ctx: RequestContext) {
      const target = req.consulVersion;
      throwIfAny([
        ...(typeof target === 'string' && target !== ''
          ? []
          : [detail('MissingField', 'consulVersion is required: the version to upgrade to (see listUpgradeVersions).', 'consulVersion')]),
        ...(req.force === undefined || typeof req.force === 'boolean'
          ? []
          : [detail('InvalidField', 'force must be true or false.', 'force')]),
      ]);
      const { operation } = await deps.startAction(req, ctx, 'upgrade', {
        params: { targetVersion: target as string, force: req.force === true },
        write: async (tx, c) => {
          const current = runningConsulVersion(c);
          throwIfAny(checkUpgradeRequest(current, target as string, deps.catalogue));
          await setSpecConsulVersion(tx, c.resourceKey, target as string, `"${randomUUID()}"`);
        },
      });
      return { operation };
    },

    /**
     * rotateCertificates: renews every server certificate now, due or not (servers reload them
     * without leaving the cluster, so it does not wait for the maintenance window).
     */
    async rotateCertificates(req: ClusterPath, ctx: RequestContext) {
      const { operation } = await deps.startAction(req, ctx, 'rotate', { params: { renewAll: true } });
      return { operation };
    },

    /** restartServer: restarts one server's VM, inside the maintenance window unless `force`. */
    async restartServer(req: ClusterPath & ServerRequest, ctx: RequestContext) {
      return { operation: await serverMaintenance(req, ctx, 'restart') };
    },

    /** repairServer: reimages one server's VM, inside the maintenance window unless `force`. */
    async repairServer(req: ClusterPath & ServerRequest, ctx: RequestContext) {
      return { operation: await serverMaintenance(req, ctx, 'repair') };
    },

    /** The cluster's plan and its billable server hours this calendar month (UTC) so far. */
    async getBillingInfo(req: ClusterPath, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      const now = new Date();
      const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
      const hours = await serverHours(db, c.resourceKey, monthStart, now);
      return {
        plan: c.spec.properties.serverCount === 1 ? 'DEVELOPMENT' : 'STANDARD',
        serverHoursThisMonth: Math.round(hours * 1000) / 1000,
      };
    },

    /** Server hours of one calendar month (UTC); the current month so far, a past month final. */
    async getBillingReport(req: ClusterPath & { month?: string }, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(req.month ?? '');
      throwIfAny(
        m
          ? []
          : [
              detail(
                'InvalidMonth',
                `month must be a calendar month "YYYY-MM" such as "2026-10"; got ${describeValue(req.month ?? null)}`,
                'month',
              ),
            ],
      );
      const now = new Date();
      const from = new Date(Date.UTC(Number(m![1]), Number(m![2]) - 1, 1));
      const end = new Date(Date.UTC(Number(m![1]), Number(m![2]), 1));
      throwIfAny(from > now ? [detail('InvalidMonth', `month ${req.month} has not begun yet`, 'month')] : []);
      const complete = end <= now;
      const hours = await serverHours(db, c.resourceKey, from, complete ? end : now);
      return {
        month: req.month,
        plan: c.spec.properties.serverCount === 1 ? 'DEVELOPMENT' : 'STANDARD',
        serverHours: Math.round(hours * 1000) / 1000,
        complete,
      };
    },

    async listUpgradeVersions(req: ClusterPath, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      const current = runningConsulVersion(c);
      return {
        value: listUpgradeTargets(current, deps.catalogue).map((t) => ({
          version: t.version,
          status: `UPGRADE_VERSION_STATUS_${t.status}`,
          kind: t.kind,
        })),
      };
    },

    async listSnapshots(req: ClusterPath & PageRequest, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      const limit = pageSize(req);
      const after = decodeNewestFirstToken(req, 'snapshots');
      const page = await pageSnapshots(db, c.resourceKey, limit, after);
      const value = page.items.map(snapshotView);
      if (!page.next) return { value };
      const token = encodeNewestFirstToken('snapshots', page.next);
      return { value, nextLink: nextLink(ctx, `${c.id}/listSnapshots`, token, req) };
    },

    async getSnapshot(req: ClusterPath & { snapshotId?: string }, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      return { snapshot: snapshotView(await snapshot(c, req.snapshotId)) };
    },

    async renameSnapshot(req: ClusterPath & { snapshotId?: string; name?: unknown }, ctx: RequestContext) {
      requireRole(ctx, 'operator');
      const c = await cluster(ctx, req);
      const name = req.name;
      throwIfAny(
        typeof name === 'string' &&
          name.trim() !== '' &&
          name.length <= MAX_SNAPSHOT_NAME &&
          ![...name].some((ch) => ch.charCodeAt(0) < 0x20)
          ? []
          : [
              detail(
                'InvalidSnapshotName',
                `name must be 1 to ${MAX_SNAPSHOT_NAME} printable characters; got ${describeValue(name)}`,
                'name',
              ),
            ],
      );
      const s = await snapshot(c, req.snapshotId);
      return { snapshot: snapshotView((await renameSnapshot(db, c.resourceKey, s.snapshotId, (name as string).trim()))!) };
    },
  };
}
