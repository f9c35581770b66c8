// ARM resource ids for clusters, their canonical storage key, and the workflow ids derived
// from them. ARM compares ids case-insensitively, so everything we key on is lower-cased.
import { detail, type ErrorDetail, ValidationError, describeValue } from './errors.js';

export const PROVIDER_NAMESPACE = 'HCS.Consul';
export const CLUSTER_RESOURCE_TYPE = 'clusters';
export const CLUSTER_FULL_TYPE = `${PROVIDER_NAMESPACE}/${CLUSTER_RESOURCE_TYPE}`;
/** Leaves room for `-server-<i>` within Azure's scale-set and host name limits (the Terraform module checks the same). */
export const MAX_CLUSTER_NAME = 48;

export interface ClusterResourceId {
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
}

export interface ParseResourceIdOptions {
  /**
   * On create the name becomes part of host names, so it must already be lower-case. On
   * lookups ARM may send any casing of an existing name, which must still resolve.
   */
  creating?: boolean;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RESOURCE_GROUP = /^[\p{L}\p{N}_\-.()]+$/u;
const CLUSTER_NAME = /^[a-z][a-z0-9-]*$/;

export function checkSubscriptionId(value: string, target = 'subscriptionId'): ErrorDetail[] {
  if (GUID.test(value)) return [];
  return [
    detail(
      'InvalidSubscriptionId',
      `${target} must be a GUID such as 00000000-0000-0000-0000-000000000000; got ${describeValue(value)}`,
      target,
    ),
  ];
}

export function checkResourceGroupName(value: string, target = 'resourceGroupName'): ErrorDetail[] {
  const length = [...value].length;
  const allowed = 'must be 1-90 characters of letters, digits, underscores, hyphens, periods and parentheses, not ending in a period';
  const problem =
    length === 0 || length > 90
      ? `has ${length} characters`
      : !RESOURCE_GROUP.test(value)
        ? `contains a character outside that set in ${describeValue(value)}`
        : value.endsWith('.')
          ? `ends in a period: ${describeValue(value)}`
          : undefined;
  return problem === undefined ? [] : [detail('InvalidResourceGroupName', `${target} ${allowed}; it ${problem}`, target)];
}

export function checkClusterName(value: string, target = 'clusterName'): ErrorDetail[] {
  const allowed = 'must be 3-48 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen';
  const problem =
    value.length < 3 || value.length > MAX_CLUSTER_NAME
      ? `has ${value.length} characters`
      : /[A-Z]/.test(value)
        ? `contains upper-case letters: ${describeValue(value)}`
        : !CLUSTER_NAME.test(value)
          ? /^[a-z]/.test(value)
            ? `contains a character outside that set: ${describeValue(value)}`
            : `does not start with a letter: ${describeValue(value)}`
          : value.endsWith('-')
            ? `ends with a hyphen: ${describeValue(value)}`
            : undefined;
  return problem === undefined ? [] : [detail('InvalidClusterName', `${target} ${allowed}; it ${problem}`, target)];
}

export function isValidSubscriptionId(value: string): boolean {
  return checkSubscriptionId(value).length === 0;
}

export function isValidResourceGroupName(value: string): boolean {
  return checkResourceGroupName(value).length === 0;
}

export function isValidClusterName(value: string): boolean {
  return checkClusterName(value).length === 0;
}

/** The three parts of a cluster id, each checked; throws a ValidationError listing every bad part. */
export function checkClusterResourceIdParts(parts: ClusterResourceId, options: ParseResourceIdOptions = {}): void {
  const name = options.creating ? parts.clusterName : parts.clusterName.toLowerCase();
  const problems = [
    ...checkSubscriptionId(parts.subscriptionId),
    ...checkResourceGroupName(parts.resourceGroup),
    ...checkClusterName(name),
  ];
  if (problems.length > 0) throw new ValidationError(problems);
}

/**
 * Parses `/subscriptions/{sub}/resourceGroups/{rg}/providers/HCS.Consul/clusters/{name}`.
 * Fixed segments match in any casing; the values keep the casing supplied (ARM returns the
 * casing last supplied), use `resourceKey` to compare or store.
 */
export function parseClusterResourceId(id: string, options: ParseResourceIdOptions = {}): ClusterResourceId {
  const segments = id.split('/');
  const shapeOk =
    segments.length === 9 &&
    segments[0] === '' &&
    equalsIgnoreCase(segments[1], 'subscriptions') &&
    equalsIgnoreCase(segments[3], 'resourceGroups') &&
    equalsIgnoreCase(segments[5], 'providers') &&
    equalsIgnoreCase(segments[6], PROVIDER_NAMESPACE) &&
    equalsIgnoreCase(segments[7], CLUSTER_RESOURCE_TYPE);
  if (!shapeOk) {
    throw new ValidationError([
      detail(
        'InvalidResourceId',
        `resource id must look like /subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${CLUSTER_FULL_TYPE}/{clusterName}; got ${describeValue(id)}`,
        'id',
      ),
    ]);
  }
  const parts: ClusterResourceId = {
    subscriptionId: segments[2] ?? '',
    resourceGroup: segments[4] ?? '',
    clusterName: segments[8] ?? '',
  };
  checkClusterResourceIdParts(parts, options);
  return parts;
}

export function formatClusterResourceId(parts: ClusterResourceId): string {
  return `/subscriptions/${parts.subscriptionId}/resourceGroups/${parts.resourceGroup}/providers/${CLUSTER_FULL_TYPE}/${parts.clusterName}`;
}

/**
 * Canonical key for storage and comparison: the formatted id, lower-cased. Idempotent, so
 * passing a key back in returns the same key.
 */
export function resourceKey(id: string | ClusterResourceId): string {
  const parts = typeof id === 'string' ? parseClusterResourceId(id) : id;
  return formatClusterResourceId(parts).toLowerCase();
}

/**
 * `token` is a root-token rotation (createRootToken); `rotate` is certificate rotation;
 * `peeringtoken` makes a peering token (generatePeeringToken), `peering` establishes one;
 * `snapshotdelete` deletes one snapshot; `restart` and `repair` are maintenance requests on one
 * server (restartServer, repairServer); `maintenance` is reserved and refused (no workflow runs it).
 */
export const OPERATION_KINDS = [
  'create',
  'update',
  'delete',
  'scale',
  'token',
  'upgrade',
  'snapshot',
  'snapshotdelete',
  'restore',
  'rotate',
  'restart',
  'repair',
  'peeringtoken',
  'peering',
  'maintenance',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

const WORKFLOW_ID = /^cluster\/(.+)\/([a-z]+)\/([^/]+)$/;

/**
 * Deterministic workflow id for one operation on one cluster: `cluster/<resourceKey>/<kind>/<operationId>`.
 * Starting the same operation twice yields the same id, so Temporal rejects the duplicate.
 * The key's leading slash is dropped so the id has no empty segment.
 */
export function workflowIdFor(key: string, kind: OperationKind, operationId: string): string {
  if (!(OPERATION_KINDS as readonly string[]).includes(kind)) {
    throw new RangeError(`operation kind must be one of ${OPERATION_KINDS.join(', ')}; got ${describeValue(kind)}`);
  }
  if (operationId === '' || operationId.includes('/')) {
    throw new RangeError(`operationId must be non-empty and contain no '/'; got ${describeValue(operationId)}`);
  }
  return `cluster/${resourceKey(key).slice(1)}/${kind}/${operationId}`;
}

export interface ParsedWorkflowId {
  resourceKey: string;
  kind: OperationKind;
  operationId: string;
}

/** Inverse of `workflowIdFor`; undefined for ids this module did not make. */
export function parseWorkflowId(workflowId: string): ParsedWorkflowId | undefined {
  const match = WORKFLOW_ID.exec(workflowId);
  if (!match) return undefined;
  const [, key = '', kind = '', operationId = ''] = match;
  if (!(OPERATION_KINDS as readonly string[]).includes(kind)) return undefined;
  try {
    const canonical = resourceKey(`/${key}`);
    if (canonical !== `/${key}`) return undefined;
    return { resourceKey: canonical, kind: kind as OperationKind, operationId };
  } catch {
    return undefined;
  }
}

function equalsIgnoreCase(a: string | undefined, b: string): boolean {
  return a !== undefined && a.toLowerCase() === b.toLowerCase();
}
