// Cluster records. The API reads and writes them; workflows change them only through the
// store activities.
import { randomBytes } from 'node:crypto';
import type { ClusterSpec } from '../domain/cluster-spec.js';
import type { SqlExecutor } from './database.js';

export interface SystemData {
  createdBy?: string;
  createdByType?: string;
  createdAt?: string;
  lastModifiedBy?: string;
  lastModifiedByType?: string;
  lastModifiedAt?: string;
}

/** Observed state, written by workflows. */
export interface ClusterStatus {
  currentConsulVersion?: string;
  privateEndpointUrl?: string;
  publicEndpointUrl?: string;
  /** When the earliest of the servers' published TLS certificates expires (RFC 3339). */
  earliestServerCertificateExpiry?: string;
  /** When the last snapshot that succeeded was completed (RFC 3339). */
  lastSuccessfulSnapshotTime?: string;
}

export interface ClusterRecord {
  /** Lower-case resource id: the key. */
  resourceKey: string;
  /** Resource id with the casing last supplied. */
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  spec: ClusterSpec;
  status: ClusterStatus;
  provisioningState: string;
  etag: string;
  systemData: SystemData | null;
  createdAt: string;
  updatedAt: string;
}

interface Row {
  resource_id: string;
  display_id: string;
  subscription_id: string;
  resource_group: string;
  name: string;
  spec: ClusterSpec;
  status: ClusterStatus;
  provisioning_state: string;
  etag: string;
  system_data: SystemData | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const columns = `resource_id, display_id, subscription_id, resource_group, name, spec, status, provisioning_state, etag, system_data, created_at, updated_at`;

function toRecord(r: Row): ClusterRecord {
  return {
    resourceKey: r.resource_id,
    id: r.display_id,
    subscriptionId: r.subscription_id,
    resourceGroup: r.resource_group,
    name: r.name,
    spec: r.spec,
    status: r.status ?? {},
    provisioningState: r.provisioning_state,
    etag: r.etag,
    systemData: r.system_data,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

export async function getCluster(db: SqlExecutor, resourceKey: string): Promise<ClusterRecord | undefined> {
  // Every GET of a cluster reads this: prepared once per connection, not parsed and planned each time.
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM clusters WHERE resource_id = $1`, [resourceKey], { name: 'get-cluster' });
  return rows[0] ? toRecord(rows[0]) : undefined;
}

export interface ListClustersOptions {
  subscriptionId: string;
  /** Lower-case resource group name; all groups when absent. */
  resourceGroup?: string;
  /** Return records whose key sorts after this one (keyset paging). */
  after?: string;
  limit: number;
}

/** One page in key order, plus whether more follow. */
export async function listClusters(db: SqlExecutor, o: ListClustersOptions): Promise<{ items: ClusterRecord[]; more: boolean }> {
  const params: unknown[] = [o.subscriptionId.toLowerCase(), o.after ?? '', o.limit + 1];
  let where = 'lower(subscription_id) = $1 AND resource_id > $2';
  if (o.resourceGroup !== undefined) {
    params.push(o.resourceGroup.toLowerCase());
    where += ` AND lower(resource_group) = $${params.length}`;
  }
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM clusters WHERE ${where} ORDER BY resource_id LIMIT $3`, params);
  return { items: rows.slice(0, o.limit).map(toRecord), more: rows.length > o.limit };
}

/** The secondaries of a WAN federation: clusters whose spec names `primaryId` as their primary. */
export async function listFederationSecondaries(db: SqlExecutor, primaryId: string): Promise<ClusterRecord[]> {
  const { rows } = await db.query<Row>(
    `SELECT ${columns} FROM clusters WHERE lower(spec->'properties'->>'primaryClusterId') = $1 ORDER BY resource_id`,
    [primaryId.toLowerCase()],
  );
  return rows.map(toRecord);
}

/**
 * Provisioned clusters whose upgrade policy asks for automatic patch upgrades, in key order,
 * optionally within one subscription: the fleet schedule's candidates.
 */
export async function automaticUpgradeCandidates(db: SqlExecutor, subscriptionId?: string): Promise<ClusterRecord[]> {
  const params: unknown[] = [];
  let where = `provisioning_state = 'Succeeded' AND (spec->'properties'->'upgradePolicy'->>'automaticPatchUpgrades')::boolean`;
  if (subscriptionId) {
    params.push(subscriptionId.toLowerCase());
    where += ` AND lower(subscription_id) = $1`;
  }
  const { rows } = await db.query<Row>(`SELECT ${columns} FROM clusters WHERE ${where} ORDER BY resource_id`, params);
  return rows.map(toRecord);
}

/** Locks a cluster's row until the end of the caller's transaction (writers of the same cluster wait). */
export async function lockCluster(tx: SqlExecutor, resourceKey: string): Promise<void> {
  await tx.query(`SELECT resource_id FROM clusters WHERE resource_id = $1 FOR UPDATE`, [resourceKey]);
}

/**
 * The clusters of a subscription whose network range overlaps `cidr` (a valid IPv4 CIDR), for the
 * overlap rule: compared by PostgreSQL (inet &&), so the answer is as long as the overlaps, not
 * as the subscription.
 */
export async function overlappingCidrs(
  db: SqlExecutor,
  subscriptionId: string,
  cidr: string,
): Promise<Array<{ resourceId: string; cidr: string }>> {
  const { rows } = await db.query<{ display_id: string; cidr: string }>(
    `SELECT display_id, spec->'properties'->'network'->>'cidr' AS cidr FROM clusters
      WHERE lower(subscription_id) = $1 AND (spec->'properties'->'network'->>'cidr')::inet && $2::inet`,
    [subscriptionId.toLowerCase(), cidr],
  );
  return rows.map((r) => ({ resourceId: r.display_id, cidr: r.cidr }));
}

export interface PutClusterInput {
  resourceKey: string;
  id: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  spec: ClusterSpec;
  provisioningState: string;
  etag: string;
  systemData: SystemData | null;
}

/**
 * Inserts or replaces the customer-owned part of a record; status is kept. A new record gets its
 * random cluster id (128 bits), which an update never changes.
 */
export async function upsertCluster(db: SqlExecutor, c: PutClusterInput): Promise<ClusterRecord> {
  const { rows } = await db.query<Row>(
    `INSERT INTO clusters (resource_id, display_id, subscription_id, resource_group, name, location, tags, spec, provisioning_state, etag, system_data, cluster_uid)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (resource_id) DO UPDATE SET
       display_id = EXCLUDED.display_id, resource_group = EXCLUDED.resource_group, name = EXCLUDED.name,
       tags = EXCLUDED.tags, spec = EXCLUDED.spec, provisioning_state = EXCLUDED.provisioning_state,
       etag = EXCLUDED.etag, system_data = EXCLUDED.system_data, updated_at = now()
     RETURNING ${columns}`,
    [
      c.resourceKey,
      c.id,
      c.subscriptionId,
      c.resourceGroup,
      c.name,
      c.spec.location,
      c.spec.tags ?? {},
      c.spec,
      c.provisioningState,
      c.etag,
      c.systemData,
      randomBytes(16).toString('hex'),
    ],
  );
  return toRecord(rows[0]!);
}

/** What every name derived for a cluster comes from: its random id, and whether it predates it. */
export interface ClusterNaming {
  /** The cluster's random id: 32 lower-case hex digits. */
  clusterId: string;
  /** Lower-case cluster name. */
  name: string;
  /** The cluster existed before random ids: its names stay derived from its resource id. */
  namesFromKey: boolean;
}

export async function getClusterNaming(db: SqlExecutor, resourceKey: string): Promise<ClusterNaming | undefined> {
  const { rows } = await db.query<{ cluster_uid: string; name: string; names_from_key: boolean }>(
    'SELECT cluster_uid, name, names_from_key FROM clusters WHERE resource_id = $1',
    [resourceKey],
  );
  const r = rows[0];
  return r ? { clusterId: r.cluster_uid, name: r.name.toLowerCase(), namesFromKey: r.names_from_key } : undefined;
}

export async function setProvisioningState(db: SqlExecutor, resourceKey: string, state: string, status?: ClusterStatus): Promise<void> {
  await db.query(`UPDATE clusters SET provisioning_state = $2, status = status || $3::jsonb, updated_at = now() WHERE resource_id = $1`, [
    resourceKey,
    state,
    status ?? {},
  ]);
}

/** Records what the cluster now runs without touching its provisioningState (a day-2 operation's end). */
export async function mergeClusterStatus(db: SqlExecutor, resourceKey: string, status: ClusterStatus): Promise<void> {
  await db.query(`UPDATE clusters SET status = status || $2::jsonb, updated_at = now() WHERE resource_id = $1`, [resourceKey, status]);
}

export async function deleteCluster(db: SqlExecutor, resourceKey: string): Promise<boolean> {
  const { rowCount } = await db.query('DELETE FROM clusters WHERE resource_id = $1', [resourceKey]);
  await db.query('DELETE FROM snapshots WHERE resource_id = $1', [resourceKey]);
  return rowCount > 0;
}

/** One Consul server of a cluster as the infrastructure reports it (no secrets). */
export interface ServerRecord {
  index: number;
  name: string;
  zone: string;
  address: string;
}

export async function getClusterServers(db: SqlExecutor, resourceKey: string): Promise<ServerRecord[]> {
  const { rows } = await db.query<{ servers: ServerRecord[] }>('SELECT servers FROM clusters WHERE resource_id = $1', [resourceKey]);
  return rows[0]?.servers ?? [];
}

/** Records where the servers are and merges `status` into the observed state. */
export async function setClusterServers(
  db: SqlExecutor,
  resourceKey: string,
  servers: ServerRecord[],
  status: ClusterStatus,
): Promise<void> {
  await db.query(`UPDATE clusters SET servers = $2::jsonb, status = status || $3::jsonb, updated_at = now() WHERE resource_id = $1`, [
    resourceKey,
    JSON.stringify(servers),
    status,
  ]);
}

/** Records the Consul version an upgrade moves the cluster to (the spec); the ETag changes with it. */
export async function setSpecConsulVersion(db: SqlExecutor, resourceKey: string, version: string, etag: string): Promise<void> {
  await db.query(
    `UPDATE clusters SET spec = jsonb_set(spec, '{properties,consulVersion}', to_jsonb($2::text)), etag = $3, updated_at = now() WHERE resource_id = $1`,
    [resourceKey, version, etag],
  );
}

/**
 * Sets the cluster's tags (and its new ETag and system data) only if the record is still the one
 * the caller read (same ETag) and no operation is active, in one statement: a tags-only change
 * can never write back an older spec or provisioningState over a concurrent scale or update.
 * Undefined when the cluster changed or an operation started meanwhile.
 */
export async function setTagsIfUnchanged(
  db: SqlExecutor,
  u: { resourceKey: string; expectedEtag: string; tags: Record<string, string> | undefined; etag: string; systemData: SystemData },
): Promise<ClusterRecord | undefined> {
  const { rows } = await db.query<Row>(
    `UPDATE clusters c SET
       spec = CASE WHEN $3::jsonb IS NULL THEN c.spec - 'tags' ELSE jsonb_set(c.spec, '{tags}', $3::jsonb) END,
       tags = COALESCE($3::jsonb, '{}'::jsonb), etag = $4, system_data = $5, updated_at = now()
     WHERE c.resource_id = $1 AND c.etag = $2
       AND NOT EXISTS (SELECT 1 FROM operations o WHERE o.resource_id = c.resource_id AND o.status IN ('Accepted', 'Running', 'Canceling'))
     RETURNING ${columns.replace(/(^|, )/g, '$1c.')}`,
    [u.resourceKey, u.expectedEtag, u.tags === undefined ? null : JSON.stringify(u.tags), u.etag, u.systemData],
  );
  return rows[0] ? toRecord(rows[0]) : undefined;
}
