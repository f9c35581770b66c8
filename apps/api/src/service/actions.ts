// Actions on a cluster (POST .../clusters/{name}/{action}): upgrade targets from the version
// catalogue, snapshot metadata from the store, the client configuration and root-token result
// the worker sealed for the API, and the upgrade request (an operation).
import { randomUUID } from 'node:crypto';
import { detail, throwIfAny, describeValue } from '../../../../domain/errors.js';
import { runningConsulVersion, checkUpgradeRequest, listUpgradeTargets, type CatalogueEntry } from '../../../../domain/versions.js';
import { setSpecConsulVersion, type ClusterRecord } from '../../../../store/clusters.js';
import type { SqlDatabase } from '../../../../store/database.js';
import { getSnapshot, getSnapshotByOperation, listSnapshots, renameSnapshot, type SnapshotRecord } from '../../../../store/snapshots.js';
import type { RequestContext } from '../context.js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { ApiError, conflict, notFound } from '../errors.js';
import { rootTokenResultName, SECRET, sealContext } from '../../../../contract/secret-names.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { OperationRecord } from '../../../../store/operations.js';
import { deleteSecretsWrittenBefore, getSecret, takeSecret } from '../../../../store/secrets.js';
import { serverHours } from '../../../../store/usage.js';
import { hasRole, requireRole } from './authorize.js';
import { loadCluster, type ClusterPath } from './cluster-path.js';
import type { clusterHandlers } from './clusters.js';

const MAX_SNAPSHOT_NAME = 100;
/** How long a new root token can be read (once) after the worker wrote it. */
export const ROOT_TOKEN_RESULT_TTL_MS = 15 * 60_000;

/** Deletes the root-token results nobody read in time (the API runs this every minute). */
export function sweepRootTokenResults(db: SqlDatabase, now = Date.now()): Promise<number> {
  return deleteSecretsWrittenBefore(db, rootTokenResultName(''), new Date(now - ROOT_TOKEN_RESULT_TTL_MS));
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

    /**
     * The result of a finished createRootToken operation: the new token, for an operator of the
     * cluster's subscription (the caller's scope was checked when the operation was found), once,
     * within ROOT_TOKEN_RESULT_TTL_MS of being written; then it is gone from the store. Readers
     * get the same 404 as for a result that never existed.
     */
    async rootTokenResult(op: OperationRecord, ctx: RequestContext): Promise<{ accessorId: string; secretId: string }> {
      const what = `The result of operation ${op.operationId}`;
      if (!hasRole(ctx, 'operator')) throw notFound(what);
      const name = rootTokenResultName(op.operationId);
      const taken = await takeSecret(db, op.resourceKey, name);
      if (!taken)
        throw new ApiError(
          404,
          GrpcStatus.NOT_FOUND,
          'ResourceNotFound',
          `${what} was not found: a new root token is shown once, within ${ROOT_TOKEN_RESULT_TTL_MS / 60_000} minutes; run createRootToken again for another.`,
        );
      if (Date.now() - taken.writtenAt.getTime() > ROOT_TOKEN_RESULT_TTL_MS)
        throw new ApiError(
          404,
          GrpcStatus.NOT_FOUND,
          'ResourceNotFound',
          `${what} expired ${ROOT_TOKEN_RESULT_TTL_MS / 60_000} minutes after the token was created and was deleted; run createRootToken again.`,
        );
      return JSON.parse(deps.sealer.open(taken.ciphertext, sealContext(op.resourceKey, name))) as { accessorId: string; secretId: string };
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

    async listSnapshots(req: ClusterPath, ctx: RequestContext) {
      requireRole(ctx, 'reader');
      const c = await cluster(ctx, req);
      return { value: (await listSnapshots(db, c.resourceKey)).map(snapshotView) };
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
