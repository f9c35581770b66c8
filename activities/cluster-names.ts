// The names a cluster takes in namespaces shared by every cluster (the DNS zone, the hosting
// subscription's resource groups, Vault's mounts, the Blob account, the Terraform state backend)
// and who owns what such a name names. Every name comes from the cluster's random id (128 bits,
// made with its record, store/migrations/0006_cluster_uid.sql), never from a hash of its resource
// id, which anyone can choose; everything made under a name carries the id from its first moment
// (tag, metadata or mount description `hcs-cluster-id`), and nothing that carries another
// cluster's id is overwritten, adopted or deleted. A thing without any id under the cluster's name
// is its own: made before ids (then marked when found), or an orphan whose name only this
// cluster's random id yields.
import type { ApplicationFailure } from '@temporalio/common';
import { workerFailure, type WorkerErrorType } from '../contract/errors.js';
import { createHash, randomBytes } from 'node:crypto';
import { getClusterNaming } from '../store/clusters.js';
import type { SqlExecutor } from '../store/database.js';

/** The tag (and DNS record-set metadata key) naming the cluster a cloud resource belongs to. */
export const CLUSTER_ID_TAG = 'hcs-cluster-id';
/** Error type: a derived name is taken by another cluster. */
export const DERIVED_NAME_OWNED: WorkerErrorType = 'DerivedNameOwnedByAnotherCluster';

export interface DerivedNames {
  /** The endpoint's DNS label under the zone. */
  dnsLabel: string;
  /** Resource group of the infrastructure in the hosting subscription. */
  infraResourceGroup: string;
  pkiMount: string;
  container: string;
  terraformState: string;
}
export type DerivedNameKind = keyof DerivedNames;
export const DERIVED_NAME_KINDS: readonly DerivedNameKind[] = ['dnsLabel', 'infraResourceGroup', 'pkiMount', 'container', 'terraformState'];

/** Whose a named thing is. */
export interface Owner {
  clusterId: string;
}

export interface ClusterIdentity {
  clusterId: string;
  names: DerivedNames;
  owner: Owner;
}

/** Resolves a cluster's id and names from its resource key. */
export type ClusterNamesOf = (resourceKey: string) => Promise<ClusterIdentity>;

/**
 * Names from the cluster's name and id: lower-case letters, digits and hyphens (underscore in the
 * state name), within every limit (DNS label <= 63, container 3-63, resource group <= 90). The DNS
 * label keeps at most 30 characters of the name, then the whole id.
 */
export function derivedNames(name: string, clusterId: string): DerivedNames {
  const label = name.slice(0, 30).replace(/-+$/, '');
  return {
    dnsLabel: `${label}-${clusterId}`,
    infraResourceGroup: `hcs-${name}-${clusterId}`,
    pkiMount: `pki-cluster-${clusterId}`,
    container: `cluster-${clusterId}`,
    terraformState: `hcs_${clusterId}`,
  };
}

/** The names of clusters created before random ids (hash prefixes of the resource key); kept so they are found again. */
export function namesFromKey(resourceKey: string): DerivedNames {
  const h = createHash('sha256').update(resourceKey).digest('hex');
  const name = resourceKey.split('/').at(-1)!;
  return {
    dnsLabel: `${name}-${h.slice(0, 8)}`,
    infraResourceGroup: `hcs-${name}-${h.slice(0, 10)}`,
    pkiMount: `pki-cluster-${h.slice(0, 20)}`,
    container: `cluster-${h.slice(0, 32)}`,
    terraformState: `hcs_${h.slice(0, 24)}`,
  };
}

/**
 * TESTS ONLY (the worker refuses it outside the test runner): by resource key, derive the listed
 * names (all when none are listed) from `clusterId` instead of the cluster's own id, so a test can
 * force two clusters onto one name and see the second refused. What the cluster makes still
 * carries its own id.
 */
export type DerivedNameOverride = Record<string, { clusterId: string; names?: DerivedNameKind[] | undefined }>;

/** Names from the store's record of each cluster. */
export function storeClusterNames(db: SqlExecutor, o: { override?: DerivedNameOverride | undefined } = {}): ClusterNamesOf {
  return async (resourceKey) => {
    const c = await getClusterNaming(db, resourceKey);
    if (!c) throw workerFailure('ClusterNotFound', `cluster ${resourceKey} is not in the store`);
    let names = c.namesFromKey ? namesFromKey(resourceKey) : derivedNames(c.name, c.clusterId);
    const forced = o.override?.[resourceKey];
    if (forced) {
      const f = derivedNames(c.name, forced.clusterId);
      for (const k of forced.names ?? DERIVED_NAME_KINDS) names = { ...names, [k]: f[k] };
    }
    return { clusterId: c.clusterId, names, owner: { clusterId: c.clusterId } };
  };
}

/** For tests of one part without a store: a random id per resource key, for the life of the process. */
export function memoryClusterNames(): ClusterNamesOf {
  const ids = new Map<string, string>();
  return async (resourceKey) => {
    const clusterId = ids.get(resourceKey) ?? randomBytes(16).toString('hex');
    ids.set(resourceKey, clusterId);
    return { clusterId, names: derivedNames(resourceKey.split('/').at(-1)!, clusterId), owner: { clusterId } };
  };
}

/**
 * Whose a thing is, from the cluster id found on it: undefined when there is no such thing (free),
 * null when it is there without any id (the cluster's own, see above).
 */
export function ownership(found: string | null | undefined, owner: Owner): 'free' | 'ours' | 'foreign' {
  if (found === undefined) return 'free';
  return found === null || found === owner.clusterId ? 'ours' : 'foreign';
}

/** The refusal: `what` (e.g. "the PKI mount pki-cluster-...") belongs to another cluster. Never retried. */
export function ownedByAnotherCluster(what: string): ApplicationFailure {
  return workerFailure(
    DERIVED_NAME_OWNED,
    `${what} is already in use by another cluster (it carries another cluster id); refusing to overwrite, adopt or remove it, and nothing of it was changed`,
  );
}

/** Refuses (DerivedNameOwnedByAnotherCluster) unless the thing is free or this cluster's own. */
export function claim(what: string, found: string | null | undefined, owner: Owner): 'free' | 'ours' {
  const o = ownership(found, owner);
  if (o === 'foreign') throw ownedByAnotherCluster(what);
  return o;
}
