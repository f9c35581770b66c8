// ClusterService handlers: one implementation for REST (ARM) and gRPC. Inputs and outputs are
// the proto messages in their JSON form (which is also the ARM JSON shape).
import { randomUUID } from 'node:crypto';
import { isPlainObject, parseClusterBody, requestedCidr, type ClusterSpec } from '../../../../domain/cluster-spec.js';
import { changedFields, parseClusterPatch, sameJson } from '../../../../domain/cluster-patch.js';
import { throwIfAny } from '../../../../domain/errors.js';
import {
  checkClusterName,
  checkResourceGroupName,
  checkSubscriptionId,
  formatClusterResourceId,
  resourceKey,
  type OperationKind,
} from '../../../../domain/resource-id.js';
import { defaultVersion, type CatalogueEntry } from '../../../../domain/versions.js';
import {
  getCluster,
  listClusters,
  listFederationSecondaries,
  overlappingCidrs,
  setTagsIfUnchanged,
  upsertCluster,
  type ClusterRecord,
} from '../../../../store/clusters.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import type { SqlDatabase, SqlExecutor } from '../../../../store/database.js';
import { activeOperation, operationLane, pendingOperation, type OperationRecord } from '../../../../store/operations.js';
import type { RequestContext } from '../context.js';
import { conflict, notFound, preconditionFailed } from '../errors.js';
import { operationTarget, type OperationStarter } from '../../../../lib/operation-starter.js';
import type { OperationParams } from '../../../../contract/temporal.js';
import { requireRole, requireSubscription } from './authorize.js';
import type { ClusterPath } from './cluster-path.js';
import { claimDatacenter, consumeTokenFor, federationChangeProblem, primaryForNewCluster, tokenPrimary } from './federation.js';
import { requireClusterRoom, type ServiceLimits } from './quotas.js';
import { clusterView, operationView, READ_ONLY_PROPERTIES, type ClusterView, type OperationView } from './views.js';
import { inProgress, startOperation } from './start-operation.js';
import { requireWritableSubscription } from './subscription-state.js';
import { beginDelete } from './delete-cluster.js';
import { decodeSkipToken, encodeSkipToken, invalidSkipToken, MAX_PAGE, nextLink, pageSize, type PageRequest } from './paging.js';
import { unfinishedDelete } from '../../../../store/delete-queue.js';

export interface ClusterServiceDeps {
  db: SqlDatabase;
  starter: OperationStarter;
  /** The process's start relay, nudged after each operation commits (lib/operation-relay.ts). */
  relay?: { nudge(): void };
  /** Consul versions offered (the catalogue). */
  catalogue: CatalogueEntry[];
  allowedLocations?: string[];
  /** Opens federation tokens (service/federation.ts). */
  sealer: SecretBox;
  /** Clusters per subscription (service/quotas.ts). */
  limits: Pick<ServiceLimits, 'clustersPerSubscription'>;
}

export function clusterHandlers(deps: ClusterServiceDeps) {
  const defaultConsulVersion = defaultVersion(deps.catalogue);
  const { db } = deps;

  /** What a PUT or PATCH waits for: the operation holding the cluster, or a delete waiting to. */
  async function pendingChange(key: string): Promise<OperationRecord | undefined> {
    return (await pendingOperation(db, key)) ?? (await unfinishedDelete(db, key));
  }

  /** The caller's right to the path and the path's form, checked before anything is read. */
  function clusterRef(ctx: RequestContext, p: ClusterPath, opts: { creating?: boolean } = {}) {
    requireSubscription(ctx, p.subscriptionId, clusterWhat(p));
    throwIfAny([
      ...checkSubscriptionId(p.subscriptionId),
      ...checkResourceGroupName(p.resourceGroup),
      ...(opts.creating ? checkClusterName(p.clusterName) : checkClusterName(p.clusterName.toLowerCase())),
    ]);
    const id = formatClusterResourceId({ subscriptionId: p.subscriptionId, resourceGroup: p.resourceGroup, clusterName: p.clusterName });
    return { id, key: resourceKey(id) };
  }

  async function load(ctx: RequestContext, p: ClusterPath) {
    const { id, key } = clusterRef(ctx, p);
    return { id, key, current: await getCluster(db, key) };
  }

  function checkEtag(current: ClusterRecord | undefined, ifMatch?: string, ifNoneMatch?: string): void {
    if (ifNoneMatch === '*' && current) throw preconditionFailed('The cluster already exists and If-None-Match: * was sent.');
    if (ifMatch && ifMatch !== '*' && (!current || current.etag !== ifMatch)) {
      throw preconditionFailed(
        `If-Match ${ifMatch} does not match the cluster's current ETag${current ? ` ${current.etag}` : ' (it does not exist)'}.`,
      );
    }
    if (ifMatch === '*' && !current) throw preconditionFailed('If-Match: * was sent but the cluster does not exist.');
  }

  /**
   * For a new cluster's overlap rule: the subscription's clusters whose range overlaps the one the
   * body asks for (none when it is not a valid range: validation names that).
   */
  async function overlappingWith(subscriptionId: string, body: unknown) {
    const cidr = requestedCidr(body);
    return cidr ? overlappingCidrs(db, subscriptionId, cidr) : [];
  }

  /** What validating a body needs; an existing cluster's range cannot change, so it overlaps nothing new. */
  function validationContext(id: string, current: ClusterRecord | undefined, overlapping: Array<{ resourceId: string; cidr: string }>) {
    return {
      knownConsulVersions: deps.catalogue.map((c) => c.version),
      ...(defaultConsulVersion ? { defaultConsulVersion } : {}),
      existingCidrsInSubscription: overlapping,
      ...(deps.allowedLocations ? { allowedLocations: deps.allowedLocations } : {}),
      ...(current ? { currentSpec: current.spec, currentProvisioningState: current.provisioningState } : {}),
      resourceId: id,
      readOnlyProperties: READ_ONLY_PROPERTIES,
    };
  }

  /**
   * The federation part of a validated spec: a new cluster with a federation token becomes a
   * secondary of the token's primary; an existing cluster keeps what it is (a token sent again
   * for the same primary is accepted, any other refused). Returns the id of the token a new
   * cluster's create transaction must consume.
   */
  async function applyFederation(
    ctx: RequestContext,
    spec: ClusterSpec,
    current: ClusterRecord | undefined,
    subscriptionId: string,
  ): Promise<string | undefined> {
    const props = isPlainObject(ctx.rawBody) && isPlainObject(ctx.rawBody.properties) ? ctx.rawBody.properties : {};
    const sent = typeof props.federationToken === 'string' ? props.federationToken : undefined;
    const stored = current?.spec.properties.primaryClusterId;
    if (!current) {
      if (!sent) return undefined;
      const join = await primaryForNewCluster(db, deps.sealer, { token: sent, ctx, subscriptionId });
      spec.properties.primaryClusterId = join.primaryId;
      return join.tokenId;
    }
    if (sent && (!stored || tokenPrimary(deps.sealer, sent)?.toLowerCase() !== stored.toLowerCase()))
      throwIfAny([federationChangeProblem(current)]);
    if (stored) spec.properties.primaryClusterId = stored;
    return undefined;
  }

  function systemData(ctx: RequestContext, current?: ClusterRecord) {
    const now = new Date().toISOString();
    const h = ctx.systemData ?? {};
    return {
      createdBy: current?.systemData?.createdBy ?? h.createdBy ?? ctx.caller.subject,
      createdByType: current?.systemData?.createdByType ?? h.createdByType ?? 'Application',
      createdAt: current?.systemData?.createdAt ?? h.createdAt ?? now,
      lastModifiedBy: h.lastModifiedBy ?? ctx.caller.subject,
      lastModifiedByType: h.lastModifiedByType ?? 'Application',
      lastModifiedAt: h.lastModifiedAt ?? now,
    };
  }

  /**
   * Starts an operation on a provisioned cluster (an action such as createRootToken,
   * createSnapshot, restoreSnapshot or upgrade): role, subscription state, readiness and the
   * one-operation rule are checked here, once for every action. `write` runs in the
   * operation's transaction (e.g. a snapshot record).
   */
  async function startAction(
    req: ClusterPath,
    ctx: RequestContext,
    kind: OperationKind,
    o: { params?: OperationParams; write?: (tx: SqlExecutor, cluster: ClusterRecord, operationId: string) => Promise<void> } = {},
  ): Promise<{ cluster: ClusterRecord; operation: OperationView; record: OperationRecord }> {
    requireRole(ctx, 'operator');
    const { current } = await load(ctx, req);
    await requireWritableSubscription(db, req.subscriptionId, false);
    if (!current) throw notFound(clusterWhat(req));
    if (current.provisioningState !== 'Succeeded' && current.provisioningState !== 'Failed')
      throw conflict('ClusterNotReady', `The cluster is ${current.provisioningState}; try again once it has been provisioned.`);
    const running = await (operationLane(kind) === 'safety' ? activeOperation : pendingOperation)(db, current.resourceKey);
    if (running) throw inProgress(running);
    const record = await startOperation(deps, {
      ctx,
      cluster: operationTarget(current),
      kind,
      write: async (tx, operationId) => o.write?.(tx, current, operationId),
      ...(o.params ? { params: o.params } : {}),
    });
    return { cluster: current, operation: operationView(record, current.id), record };
  }

  return {
    async createOrReplaceCluster(
      req: ClusterPath & { ifMatch?: string; ifNoneMatch?: string },
      ctx: RequestContext,
    ): Promise<{ cluster: ClusterView; created: boolean; operation?: OperationView }> {
      requireRole(ctx, 'operator');
      const { id, key } = clusterRef(ctx, req, { creating: true });
      // The three reads at once (only the subscription's state can refuse, so the answer does not
      // depend on which finishes first); the overlapping ranges matter only if the cluster is new.
      const [current, , overlapping] = await Promise.all([
        getCluster(db, key),
        requireWritableSubscription(db, req.subscriptionId, false),
        overlappingWith(req.subscriptionId, ctx.rawBody),
      ]);
      checkEtag(current, req.ifMatch, req.ifNoneMatch);
      const spec = parseClusterBody(ctx.rawBody, validationContext(id, current, current ? [] : overlapping));
      const federationTokenId = await applyFederation(ctx, spec, current, req.subscriptionId);
      if (current) {
        const running = await pendingChange(key);
        if (running) throw inProgress(running);
        if (sameJson(current.spec, spec) && current.provisioningState === 'Succeeded') {
          return { cluster: clusterView(current), created: false };
        }
      }
      const kind: OperationKind = !current
        ? 'create'
        : current.spec.properties.serverCount !== spec.properties.serverCount
          ? 'scale'
          : 'update';
      let record: ClusterRecord | undefined;
      const op = await startOperation(deps, {
        ctx,
        cluster: { resourceKey: key, id, subscriptionId: req.subscriptionId, resourceGroup: req.resourceGroup, location: spec.location },
        kind,
        write: async (tx) => {
          if (!current && spec.properties.primaryClusterId)
            await claimDatacenter(tx, spec.properties.primaryClusterId, spec.properties.datacenter);
          if (federationTokenId) await consumeTokenFor(tx, federationTokenId, key);
          record = await upsertCluster(tx, {
            resourceKey: key,
            id,
            subscriptionId: req.subscriptionId,
            resourceGroup: req.resourceGroup,
            name: req.clusterName,
            spec,
            provisioningState: current ? 'Updating' : 'Accepted',
            etag: newEtag(),
            systemData: systemData(ctx, current),
          });
        },
        // A new cluster's quota and range rule, under the subscription's lock: the transaction's
        // last step, so creates in one subscription queue for the check and the commit only.
        ...(!current
          ? {
              lastCheck: (tx: SqlExecutor) =>
                requireClusterRoom(
                  tx,
                  { subscriptionId: req.subscriptionId, id, resourceKey: key, cidr: spec.properties.network.cidr },
                  deps.limits.clustersPerSubscription,
                ),
            }
          : {}),
      });
      return { cluster: clusterView(record!), created: !current, operation: operationView(op, id) };
    },

    async getCluster(req: ClusterPath, ctx: RequestContext): Promise<{ cluster: ClusterView }> {
      requireRole(ctx, 'reader');
      const { current } = await load(ctx, req);
      if (!current) throw notFound(clusterWhat(req));
      return { cluster: clusterView(current) };
    },

    async listClustersByResourceGroup(
      req: { subscriptionId: string; resourceGroup: string; skipToken?: string; top?: number },
      ctx: RequestContext,
    ): Promise<{ value: ClusterView[]; nextLink?: string }> {
      requireRole(ctx, 'reader');
      requireSubscription(ctx, req.subscriptionId, `Subscription '${req.subscriptionId}'`);
      throwIfAny([...checkSubscriptionId(req.subscriptionId), ...checkResourceGroupName(req.resourceGroup)]);
      return page(ctx, req, req.resourceGroup);
    },

    async listClustersBySubscription(
      req: { subscriptionId: string; skipToken?: string; top?: number },
      ctx: RequestContext,
    ): Promise<{ value: ClusterView[]; nextLink?: string }> {
      requireRole(ctx, 'reader');
      requireSubscription(ctx, req.subscriptionId, `Subscription '${req.subscriptionId}'`);
      throwIfAny(checkSubscriptionId(req.subscriptionId));
      return page(ctx, req, undefined);
    },

    async updateCluster(
      req: ClusterPath & { ifMatch?: string },
      ctx: RequestContext,
    ): Promise<{ cluster: ClusterView; operation?: OperationView }> {
      requireRole(ctx, 'operator');
      const { id, key, current } = await load(ctx, req);
      if (!current) throw notFound(clusterWhat(req));
      await requireWritableSubscription(db, req.subscriptionId, false);
      checkEtag(current, req.ifMatch);
      const spec = parseClusterPatch(ctx.rawBody, current.spec, validationContext(id, current, []));
      await applyFederation(ctx, spec, current, req.subscriptionId);
      const running = await pendingChange(key);
      if (running) throw inProgress(running);
      const changed = changedFields(current.spec, spec);
      const sd = systemData(ctx, current);
      if (changed.length === 0) return { cluster: clusterView(current) };
      if (changed.every((f) => f === 'tags')) {
        // Tags are ours alone: no workflow, answered synchronously - but only over the record we
        // read, so a scale or update that started meanwhile is never reverted.
        const record = await setTagsIfUnchanged(db, {
          resourceKey: key,
          expectedEtag: current.etag,
          tags: spec.tags,
          etag: newEtag(),
          systemData: sd,
        });
        if (record) return { cluster: clusterView(record) };
        const started = await activeOperation(db, key);
        if (started) throw inProgress(started);
        throw preconditionFailed('The cluster changed while its tags were being updated; read it again and retry.');
      }
      const kind: OperationKind = changed.includes('properties.serverCount') ? 'scale' : 'update';
      let record: ClusterRecord | undefined;
      const op = await startOperation(deps, {
        ctx,
        cluster: operationTarget(current),
        kind,
        write: async (tx) => {
          record = await upsertCluster(tx, { ...current, spec, provisioningState: 'Updating', etag: newEtag(), systemData: sd });
        },
      });
      return { cluster: clusterView(record!), operation: operationView(op, id) };
    },

    async deleteCluster(
      req: ClusterPath & { ifMatch?: string },
      ctx: RequestContext,
    ): Promise<{ existed: boolean; operation?: OperationView }> {
      requireRole(ctx, 'operator');
      const { current } = await load(ctx, req);
      await requireWritableSubscription(db, req.subscriptionId, true);
      if (!current) return { existed: false };
      checkEtag(current, req.ifMatch);
      // Accepted in any state: what runs is cancelled and the delete follows (delete-cluster.ts).
      const secondaries = await listFederationSecondaries(db, current.id);
      if (secondaries.length)
        throw conflict(
          'FederationHasSecondaries',
          `The cluster is the primary of a WAN federation; delete its secondaries first: ${secondaries.map((c) => c.id).join(', ')}.`,
        );
      const { operation } = await beginDelete(deps, ctx, operationTarget(current));
      return { existed: true, operation: operationView(operation, current.id) };
    },

    startAction,

    /**
     * createRootToken: a new root token, made by a workflow (the API never talks to Consul). The
     * caller follows the operation; its result (operationResults) carries the token once done.
     */
    async createRootToken(req: ClusterPath, ctx: RequestContext): Promise<{ operation: OperationView }> {
      const { operation } = await startAction(req, ctx, 'token');
      return { operation };
    },

    /**
     * A Deleted subscription loses everything and ARM sends no per-resource DELETE: every
     * cluster gets a delete, which cancels what runs on it and follows once that has ended.
     * Idempotent for redelivered notifications (a delete under way is kept).
     */
    async deleteAllInSubscription(subscriptionId: string, ctx: RequestContext): Promise<number> {
      let started = 0;
      let after: string | undefined;
      for (;;) {
        const { items, more } = await listClusters(db, { subscriptionId, limit: MAX_PAGE, ...(after ? { after } : {}) });
        for (const c of items) if ((await beginDelete(deps, ctx, operationTarget(c))).started) started++;
        if (!more) return started;
        after = items[items.length - 1]?.resourceKey;
      }
    },
  };

  async function page(ctx: RequestContext, req: { subscriptionId: string } & PageRequest, resourceGroup: string | undefined) {
    const limit = pageSize(req);
    const [after] = decodeSkipToken(req, 'clusters', 1) ?? [];
    // A token names a cluster key; one of another subscription is not a position in this list.
    if (after !== undefined && !after.startsWith(`/subscriptions/${req.subscriptionId.toLowerCase()}/`)) throw invalidSkipToken();
    const { items, more } = await listClusters(db, {
      subscriptionId: req.subscriptionId,
      ...(resourceGroup !== undefined ? { resourceGroup } : {}),
      ...(after !== undefined ? { after } : {}),
      limit,
    });
    const value = items.map(clusterView);
    const last = items[items.length - 1];
    if (!more || !last) return { value };
    const path =
      resourceGroup === undefined
        ? `/subscriptions/${req.subscriptionId}/providers/HCS.Consul/clusters`
        : `/subscriptions/${req.subscriptionId}/resourceGroups/${resourceGroup}/providers/HCS.Consul/clusters`;
    return { value, nextLink: nextLink(ctx, path, encodeSkipToken('clusters', [last.resourceKey]), req) };
  }
}

export type ClusterHandlers = ReturnType<typeof clusterHandlers>;

function clusterWhat(p: ClusterPath): string {
  return `The cluster '${p.clusterName}' in resource group '${p.resourceGroup}'`;
}

function newEtag(): string {
  return `"${randomUUID()}"`;
}
