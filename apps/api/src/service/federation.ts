// WAN federation: a primary cluster hands out a federation token (createFederationToken); a
// cluster created with that token in properties.federationToken becomes a secondary datacenter
// of the primary's federation (the lifecycle workflow joins it). The token is a document sealed
// by the API's own key: it cannot be forged or altered, names its primary and expires. It is a
// bearer credential (it lets a new cluster share the primary's gossip key and ACL system), so
// only operators get one, and it is never stored or returned afterwards.
import { detail, throwIfAny, ValidationError, type ErrorDetail } from '../../../../domain/errors.js';
import { resourceKey } from '../../../../domain/resource-id.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import { getCluster, listFederationSecondaries, type ClusterRecord } from '../../../../store/clusters.js';
import type { SqlDatabase, SqlExecutor } from '../../../../store/database.js';
import type { RequestContext } from '../context.js';
import { conflict } from '../errors.js';
import { canSee, requireRole } from './authorize.js';
import { loadCluster, type ClusterPath } from './cluster-path.js';

/** How long a federation token is accepted. */
export const FEDERATION_TOKEN_TTL_MS = 24 * 3600 * 1000;
const TOKEN_CONTEXT = 'hcs-federation-token/v1';
const TARGET = 'properties.federationToken';

interface TokenDocument {
  primaryId: string;
  expiresAt: string;
}

/** A federation token for `primaryId`, valid until `expiresAt`. */
export function sealFederationToken(sealer: SecretBox, primaryId: string, expiresAt: Date): string {
  const doc: TokenDocument = { primaryId, expiresAt: expiresAt.toISOString() };
  return sealer.seal(JSON.stringify(doc), TOKEN_CONTEXT);
}

/** The token's document when it opens (expired or not); undefined otherwise. */
function openToken(sealer: SecretBox, token: string): TokenDocument | undefined {
  try {
    return JSON.parse(sealer.open(token, TOKEN_CONTEXT)) as TokenDocument;
  } catch {
    return undefined;
  }
}

/** The primary a token names, when it opens (expired or not). */
export const tokenPrimary = (sealer: SecretBox, token: string): string | undefined => openToken(sealer, token)?.primaryId;

/**
 * The primary a new cluster joins, from the token it was created with. Every problem with the
 * token is a validation error on its field; a primary that is busy is 409. The datacenter name
 * is checked where the cluster is recorded (claimDatacenter).
 */
export async function primaryForNewCluster(db: SqlExecutor, sealer: SecretBox, a: { token: string; now: Date }): Promise<string> {
  const doc = openToken(sealer, a.token);
  if (!doc)
    throw new ValidationError([
      detail(
        'InvalidFederationToken',
        `${TARGET} is not a token from createFederationToken (it does not open: mistyped, truncated or from another service); create a new one on the primary cluster`,
        TARGET,
      ),
    ]);
  const problems: ErrorDetail[] = [];
  if (Date.parse(doc.expiresAt) <= a.now.getTime()) {
    problems.push(
      detail('FederationTokenExpired', `${TARGET} expired at ${doc.expiresAt}; create a new one on the primary cluster`, TARGET),
    );
  }
  const primary = await getCluster(db, resourceKey(doc.primaryId));
  if (!primary) {
    problems.push(
      detail('PrimaryClusterNotFound', `${TARGET} names the primary cluster ${doc.primaryId}, which does not exist any more`, TARGET),
    );
  }
  throwIfAny(problems);
  if (primary!.provisioningState !== 'Succeeded')
    throw conflict(
      'PrimaryClusterNotReady',
      `The primary cluster ${primary!.id} is ${primary!.provisioningState}; a secondary can join once it is Succeeded.`,
    );
  return primary!.id;
}

/**
 * In the transaction that records a new secondary: locks the primary's row, so concurrent
 * creates join one at a time, and refuses a datacenter name the federation already uses.
 */
export async function claimDatacenter(tx: SqlExecutor, primaryId: string, datacenter: string): Promise<void> {
  await tx.query('SELECT resource_id FROM clusters WHERE resource_id = $1 FOR UPDATE', [resourceKey(primaryId)]);
  const primary = await getCluster(tx, resourceKey(primaryId));
  if (!primary) throw conflict('PrimaryClusterNotFound', `The primary cluster ${primaryId} was deleted meanwhile.`);
  const secondaries = await listFederationSecondaries(tx, primary.id);
  const taken = [primary, ...secondaries].find((c) => c.spec.properties.datacenter === datacenter);
  throwIfAny(
    taken
      ? [
          detail(
            'DatacenterInUse',
            `properties.datacenter ${JSON.stringify(datacenter)} is already the datacenter of ${taken.id} in the federation this token joins; every datacenter of a federation needs its own name`,
            'properties.datacenter',
          ),
        ]
      : [],
  );
}

/** Refusal of a federation token sent for a cluster that exists already (joining happens only at creation). */
export function federationChangeProblem(current: ClusterRecord): ErrorDetail {
  const primary = current.spec.properties.primaryClusterId;
  return detail(
    'PropertyChangeNotAllowed',
    `${TARGET} is accepted only when a cluster is created: this cluster ${primary ? `is a secondary of ${primary}` : 'is not federated'} and that cannot change; create a new cluster with the token instead`,
    TARGET,
  );
}

export function federationHandlers(deps: {
  db: SqlDatabase;
  sealer: SecretBox;
  /** Refuses changes in a subscription that is not Registered (clusterHandlers). */
  requireWritableSubscription: (subscriptionId: string, allowDelete: boolean) => Promise<void>;
}) {
  const { db } = deps;

  return {
    /** A token a new cluster presents (properties.federationToken) to join this cluster's federation. */
    async createFederationToken(req: ClusterPath, ctx: RequestContext): Promise<{ federationToken: string; expiresAt: string }> {
      requireRole(ctx, 'operator');
      const c = await loadCluster(db, ctx, req);
      await deps.requireWritableSubscription(req.subscriptionId, false);
      const primary = c.spec.properties.primaryClusterId;
      if (primary)
        throw conflict(
          'NotAPrimaryCluster',
          `The cluster is a secondary of ${primary}; only the primary hands out federation tokens, so create the token there.`,
        );
      if (c.provisioningState !== 'Succeeded')
        throw conflict('ClusterNotReady', `The cluster is ${c.provisioningState}; try again once it has been provisioned.`);
      const expiresAt = new Date(Date.now() + FEDERATION_TOKEN_TTL_MS);
      return { federationToken: sealFederationToken(deps.sealer, c.id, expiresAt), expiresAt: expiresAt.toISOString() };
    },

    /** The federation the cluster belongs to; a cluster on its own is the primary of a federation of one. */
    async getFederation(
      req: ClusterPath,
      ctx: RequestContext,
    ): Promise<{ primaryClusterId: string; secondaryClusterIds: string[]; datacenters: string[] }> {
      requireRole(ctx, 'reader');
      const c = await loadCluster(db, ctx, req);
      const primaryId = c.spec.properties.primaryClusterId;
      const primary = primaryId ? await getCluster(db, resourceKey(primaryId)) : c;
      if (!primary) throw conflict('PrimaryClusterNotFound', `The cluster's primary ${primaryId} does not exist any more.`);
      const secondaries = await listFederationSecondaries(db, primary.id);
      // Members may live in other tenants' subscriptions: only ids the caller may see are shown.
      // The datacenter names stay, as Consul itself shows them to every member of the WAN pool.
      const visible = (m: ClusterRecord) => canSee(ctx.caller, m.subscriptionId);
      return {
        primaryClusterId: visible(primary) ? primary.id : '',
        secondaryClusterIds: secondaries.filter(visible).map((s) => s.id),
        datacenters: [primary, ...secondaries].map((m) => m.spec.properties.datacenter),
      };
    },
  };
}
