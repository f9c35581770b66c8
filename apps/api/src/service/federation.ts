// WAN federation: a primary cluster hands out a federation token (createFederationToken); a
// cluster created with that token in properties.federationToken becomes a secondary datacenter
// of the primary's federation (the lifecycle workflow joins it). The token is a document sealed
// by the API's own key (it cannot be forged or altered) naming a random token id, the primary,
// the tenant it was issued for and its expiry. It is a bearer credential (it lets a new cluster
// share the primary's gossip key and ACL system), so:
//  - only operators of the primary get one, and it is shown once: the store keeps only its id
//    and metadata (store/federation-tokens.ts), never the token;
//  - it is used at most once: the secondary's create transaction consumes the id;
//  - only callers with operator rights on the primary's subscription, or creating the secondary
//    in a subscription of the tenant it was issued for, may use it;
//  - it expires (ServiceLimits.federationTokenTtlSeconds, one hour by default) and the
//    primary's operators can revoke it (revokeFederationTokens).
import { randomUUID } from 'node:crypto';
import { detail, throwIfAny, ValidationError, type ErrorDetail, describeValue } from '../../../../domain/errors.js';
import { parseClusterResourceId, resourceKey } from '../../../../domain/resource-id.js';
import type { SecretBox } from '../../../../lib/secret-box.js';
import { getCluster, listFederationSecondaries, lockCluster, type ClusterRecord } from '../../../../store/clusters.js';
import type { SqlDatabase, SqlExecutor } from '../../../../store/database.js';
import {
  consumeFederationToken,
  getFederationToken,
  issueFederationToken,
  revokeFederationTokens,
  type FederationTokenRecord,
} from '../../../../store/federation-tokens.js';
import { getSubscription } from '../../../../store/subscriptions.js';
import type { RequestContext } from '../context.js';
import { conflict, forbidden, notFound } from '../errors.js';
import { canSee, requireRole } from './authorize.js';
import { requireWritableSubscription } from './subscription-state.js';
import { loadCluster, type ClusterPath } from './cluster-path.js';

const TOKEN_CONTEXT = 'hcs-federation-token/v2';
const TARGET = 'properties.federationToken';

export interface FederationTokenDocument {
  /** Random id, the key of the token's record. */
  tokenId: string;
  primaryId: string;
  /** Tenant of the primary's subscription when issued; null when the subscription's tenant is unknown. */
  issuedToTenant: string | null;
  expiresAt: string;
}

/** Seals a token document (createFederationToken; tests build documents of their own with it). */
export function sealFederationToken(sealer: SecretBox, doc: FederationTokenDocument): string {
  return sealer.seal(JSON.stringify(doc), TOKEN_CONTEXT);
}

/** The token's document when it opens and has the current shape; undefined otherwise. */
function openToken(sealer: SecretBox, token: string): FederationTokenDocument | undefined {
  try {
    const doc = JSON.parse(sealer.open(token, TOKEN_CONTEXT)) as Partial<FederationTokenDocument>;
    return typeof doc.tokenId === 'string' && typeof doc.primaryId === 'string' ? (doc as FederationTokenDocument) : undefined;
  } catch {
    return undefined;
  }
}

/** The primary a token names, when it opens (used, expired or not). */
export const tokenPrimary = (sealer: SecretBox, token: string): string | undefined => openToken(sealer, token)?.primaryId;

const invalidToken = () =>
  new ValidationError([
    detail(
      'InvalidFederationToken',
      `${TARGET} is not a token from createFederationToken (it does not open: mistyped, truncated or from another service); create a new one on the primary cluster`,
      TARGET,
    ),
  ]);

/** Why a token on record cannot be used (used before revoked before expired), as its field's problem. */
function stateProblem(t: FederationTokenRecord): ErrorDetail | undefined {
  switch (t.state) {
    case 'consumed':
      return detail(
        'FederationTokenAlreadyUsed',
        `${TARGET} has already been used to create a secondary; a token joins one cluster only, so create a new one on the primary cluster`,
        TARGET,
      );
    case 'revoked':
      return detail('FederationTokenRevoked', `${TARGET} was revoked on the primary cluster; ask its operators for a new one`, TARGET);
    case 'expired':
      return detail('FederationTokenExpired', `${TARGET} expired at ${t.expiresAt}; create a new one on the primary cluster`, TARGET);
    default:
      return undefined;
  }
}

/**
 * Who may use a token: an operator who can see the primary's subscription (createOrReplace
 * already demands the operator role), or anyone creating the secondary in a subscription of the
 * tenant the token was issued for. ARM acts for every subscription, so for ARM the first rule
 * means "the secondary is in the primary's subscription". The refusal names neither the primary
 * nor its subscription.
 */
async function requireMayUse(db: SqlExecutor, ctx: RequestContext, t: FederationTokenRecord, subscriptionId: string): Promise<void> {
  const primarySubscription = parseClusterResourceId(t.primaryKey).subscriptionId;
  const sameSubscription = primarySubscription.toLowerCase() === subscriptionId.toLowerCase();
  if (ctx.caller.kind === 'arm' ? sameSubscription : canSee(ctx.caller, primarySubscription)) return;
  if (t.issuedToTenant) {
    const tenant = (await getSubscription(db, subscriptionId))?.tenantId;
    if (tenant && tenant.toLowerCase() === t.issuedToTenant.toLowerCase()) return;
  }
  throw forbidden(
    'FederationTokenNotAllowed',
    `${TARGET} was not issued for this subscription's tenant, and the caller '${ctx.caller.subject}' has no operator rights where it was issued; ask the primary cluster's operators for a token issued to your tenant.`,
  );
}

/** What a new cluster joins: the primary, and the token id its create transaction consumes. */
export interface FederationJoin {
  primaryId: string;
  tokenId: string;
}

/**
 * The primary a new cluster joins, from the token it was created with. Checked in this order:
 * the token opens and is on record (400), the caller may use it (403), it is not used, revoked
 * or expired (400), its primary still exists (400) and is Succeeded (409). The create
 * transaction consumes it (consumeTokenFor) and checks the datacenter name (claimDatacenter).
 */
export async function primaryForNewCluster(
  db: SqlExecutor,
  sealer: SecretBox,
  a: { token: string; ctx: RequestContext; subscriptionId: string },
): Promise<FederationJoin> {
  const doc = openToken(sealer, a.token);
  const record = doc && (await getFederationToken(db, doc.tokenId));
  if (!doc || !record || record.primaryKey !== resourceKey(doc.primaryId)) throw invalidToken();
  await requireMayUse(db, a.ctx, record, a.subscriptionId);
  throwIfAny([stateProblem(record)].filter((p): p is ErrorDetail => !!p));
  const primary = await getCluster(db, record.primaryKey);
  if (!primary || !record.primaryCurrent) {
    throwIfAny([
      detail(
        'PrimaryClusterNotFound',
        `${TARGET} names the primary cluster ${doc.primaryId}, which ${primary ? 'was deleted and created again since the token was issued' : 'does not exist any more'}`,
        TARGET,
      ),
    ]);
  }
  if (primary!.provisioningState !== 'Succeeded')
    throw conflict(
      'PrimaryClusterNotReady',
      `The primary cluster ${primary!.id} is ${primary!.provisioningState}; a secondary can join once it is Succeeded.`,
    );
  return { primaryId: primary!.id, tokenId: record.tokenId };
}

/**
 * In the secondary's create transaction: uses the token up. Of concurrent creates with one
 * token exactly one gets it; the others (and a token revoked or expired since the check) get
 * the precise refusal and their transaction, with the cluster and operation records, rolls back.
 */
export async function consumeTokenFor(tx: SqlExecutor, tokenId: string, secondaryKey: string): Promise<void> {
  if (await consumeFederationToken(tx, tokenId, secondaryKey)) return;
  const now = await getFederationToken(tx, tokenId);
  throwIfAny([
    (now && stateProblem(now)) ?? detail('PrimaryClusterNotFound', `${TARGET} names a primary cluster that was deleted meanwhile`, TARGET),
  ]);
}

/**
 * In the transaction that records a new secondary: locks the primary's row, so concurrent
 * creates join one at a time, and refuses a datacenter name the federation already uses.
 */
export async function claimDatacenter(tx: SqlExecutor, primaryId: string, datacenter: string): Promise<void> {
  await lockCluster(tx, resourceKey(primaryId));
  const primary = await getCluster(tx, resourceKey(primaryId));
  if (!primary) throw conflict('PrimaryClusterNotFound', `The primary cluster ${primaryId} was deleted meanwhile.`);
  const secondaries = await listFederationSecondaries(tx, primary.id);
  const taken = [primary, ...secondaries].find((c) => c.spec.properties.datacenter === datacenter);
  throwIfAny(
    taken
      ? [
          detail(
            'DatacenterInUse',
            `properties.datacenter ${describeValue(datacenter)} is already the datacenter of ${taken.id} in the federation this token joins; every datacenter of a federation needs its own name`,
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
  /** How long a new token is accepted. */
  federationTokenTtlSeconds: number;
}) {
  const { db } = deps;

  return {
    /** A token a new cluster presents (properties.federationToken) to join this cluster's federation; shown once. */
    async createFederationToken(
      req: ClusterPath,
      ctx: RequestContext,
    ): Promise<{ federationToken: string; tokenId: string; expiresAt: string }> {
      requireRole(ctx, 'operator');
      const c = await loadCluster(db, ctx, req);
      await requireWritableSubscription(db, req.subscriptionId, false);
      const primary = c.spec.properties.primaryClusterId;
      if (primary)
        throw conflict(
          'NotAPrimaryCluster',
          `The cluster is a secondary of ${primary}; only the primary hands out federation tokens, so create the token there.`,
        );
      if (c.provisioningState !== 'Succeeded')
        throw conflict('ClusterNotReady', `The cluster is ${c.provisioningState}; try again once it has been provisioned.`);
      const tokenId = randomUUID();
      const issuedToTenant = (await getSubscription(db, c.subscriptionId))?.tenantId ?? null;
      const { expiresAt } = await issueFederationToken(db, {
        tokenId,
        primaryKey: c.resourceKey,
        issuedToTenant,
        issuedBy: ctx.caller.subject,
        ttlSeconds: deps.federationTokenTtlSeconds,
      });
      const federationToken = sealFederationToken(deps.sealer, { tokenId, primaryId: c.id, issuedToTenant, expiresAt });
      return { federationToken, tokenId, expiresAt };
    },

    /**
     * Revokes the primary's outstanding federation tokens, or only `tokenId` (from
     * createFederationToken's answer). Used tokens stay used: to undo a join, delete the secondary.
     */
    async revokeFederationTokens(req: ClusterPath & { tokenId?: unknown }, ctx: RequestContext): Promise<{ revokedTokenIds: string[] }> {
      requireRole(ctx, 'operator');
      const c = await loadCluster(db, ctx, req);
      const tokenId = req.tokenId === undefined || req.tokenId === '' ? undefined : req.tokenId;
      if (tokenId === undefined) return { revokedTokenIds: await revokeFederationTokens(db, c.resourceKey) };
      if (typeof tokenId !== 'string' || !/^[0-9a-f-]{36}$/i.test(tokenId))
        throwIfAny([detail('InvalidParameter', 'tokenId must be the tokenId createFederationToken answered (a UUID)', 'tokenId')]);
      const id = (tokenId as string).toLowerCase();
      const t = await getFederationToken(db, id);
      if (!t || t.primaryKey !== c.resourceKey) throw notFound(`The federation token '${id}' of cluster '${c.name}'`);
      if (t.state === 'consumed')
        throw conflict(
          'FederationTokenAlreadyUsed',
          `The federation token '${id}' has already been used to create a secondary; delete that secondary to undo the join.`,
        );
      await revokeFederationTokens(db, c.resourceKey, id);
      // Revoking an already revoked token again is not an error (the record says so either way).
      return { revokedTokenIds: [id] };
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
