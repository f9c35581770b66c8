// Federation tokens on record (store/migrations/0007_federation_tokens.sql): ids and metadata
// only, never the sealed token. Time is the database's clock throughout (issue, expiry and
// consumption compare against now() in SQL), so API replicas with skewed clocks agree.
import type { SqlExecutor } from './database.js';

export type FederationTokenState = 'outstanding' | 'consumed' | 'revoked' | 'expired';

export interface FederationTokenRecord {
  tokenId: string;
  /** Lower-cased resource id of the primary. */
  primaryKey: string;
  issuedToTenant: string | null;
  issuedAt: string;
  expiresAt: string;
  /** Used wins over revoked, revoked over expired. */
  state: FederationTokenState;
  /** False when the primary is gone, or was deleted and created again after the token was issued. */
  primaryCurrent: boolean;
}

interface Row {
  token_id: string;
  primary_key: string;
  issued_to_tenant: string | null;
  issued_at: Date | string;
  expires_at: Date | string;
  state: FederationTokenState;
  primary_current: boolean;
}

/** A token is only good for the cluster record that existed when it was issued (not a re-created namesake). */
const PRIMARY_CURRENT = `EXISTS (SELECT 1 FROM clusters c WHERE c.resource_id = t.primary_key AND c.created_at <= t.issued_at)`;
const OUTSTANDING = `t.consumed_at IS NULL AND t.revoked_at IS NULL AND t.expires_at > now()`;

/** Records a new token; returns when it expires (now + ttlSeconds, by the database's clock). */
export async function issueFederationToken(
  db: SqlExecutor,
  t: { tokenId: string; primaryKey: string; issuedToTenant: string | null; issuedBy: string; ttlSeconds: number },
): Promise<{ expiresAt: string }> {
  const { rows } = await db.query<{ expires_at: Date | string }>(
    `INSERT INTO federation_tokens (token_id, primary_key, issued_to_tenant, issued_by, expires_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5)) RETURNING expires_at`,
    [t.tokenId, t.primaryKey, t.issuedToTenant, t.issuedBy, t.ttlSeconds],
  );
  return { expiresAt: new Date(rows[0]!.expires_at).toISOString() };
}

export async function getFederationToken(db: SqlExecutor, tokenId: string): Promise<FederationTokenRecord | undefined> {
  const { rows } = await db.query<Row>(
    `SELECT t.token_id, t.primary_key, t.issued_to_tenant, t.issued_at, t.expires_at,
       CASE WHEN t.consumed_at IS NOT NULL THEN 'consumed' WHEN t.revoked_at IS NOT NULL THEN 'revoked'
            WHEN t.expires_at <= now() THEN 'expired' ELSE 'outstanding' END AS state,
       ${PRIMARY_CURRENT} AS primary_current
     FROM federation_tokens t WHERE t.token_id = $1`,
    [tokenId],
  );
  const r = rows[0];
  return (
    r && {
      tokenId: r.token_id,
      primaryKey: r.primary_key,
      issuedToTenant: r.issued_to_tenant,
      issuedAt: new Date(r.issued_at).toISOString(),
      expiresAt: new Date(r.expires_at).toISOString(),
      state: r.state,
      primaryCurrent: r.primary_current,
    }
  );
}

/**
 * Uses the token for the secondary `consumedBy`, in that cluster's create transaction. One
 * conditional UPDATE: of two concurrent creates, the second waits for the first's row lock and
 * then finds consumed_at set. False when the token is not outstanding (or its primary changed).
 */
export async function consumeFederationToken(tx: SqlExecutor, tokenId: string, consumedBy: string): Promise<boolean> {
  const { rows } = await tx.query(
    `UPDATE federation_tokens t SET consumed_at = now(), consumed_by = $2
     WHERE t.token_id = $1 AND ${OUTSTANDING} AND ${PRIMARY_CURRENT} RETURNING t.token_id`,
    [tokenId, consumedBy],
  );
  return rows.length === 1;
}

/**
 * Revokes the primary's outstanding tokens, or the one token `tokenId` of that primary (also
 * when it has expired, so a revoked token never reads as merely expired). Used tokens are not
 * touched. Returns the ids revoked now.
 */
export async function revokeFederationTokens(db: SqlExecutor, primaryKey: string, tokenId?: string): Promise<string[]> {
  const { rows } = await db.query<{ token_id: string }>(
    tokenId === undefined
      ? `UPDATE federation_tokens t SET revoked_at = now() WHERE t.primary_key = $1 AND ${OUTSTANDING} RETURNING t.token_id`
      : `UPDATE federation_tokens t SET revoked_at = now()
         WHERE t.primary_key = $1 AND t.token_id = $2 AND t.consumed_at IS NULL AND t.revoked_at IS NULL RETURNING t.token_id`,
    tokenId === undefined ? [primaryKey] : [primaryKey, tokenId],
  );
  return rows.map((r) => r.token_id).sort();
}
