// Reads an ARM request path into what it addresses. ARM paths are a grammar, not a fixed route
// table (`{scope}/providers/Microsoft.Authorization/roleAssignments/{id}` can sit under any
// resource), so one parser serves every route instead of a fastify route per shape.
import { badRequest } from './errors.js';

/** Resource types the twin serves, in Azure's casing (clients compare `type` case-sensitively). */
export const RESOURCE_TYPES = [
  'Microsoft.Network/virtualNetworks',
  'Microsoft.Network/virtualNetworks/subnets',
  'Microsoft.Network/networkSecurityGroups',
  'Microsoft.Network/networkSecurityGroups/securityRules',
  'Microsoft.Network/publicIPAddresses',
  'Microsoft.Network/loadBalancers',
  'Microsoft.Network/loadBalancers/frontendIPConfigurations',
  'Microsoft.Network/loadBalancers/backendAddressPools',
  'Microsoft.Network/loadBalancers/probes',
  'Microsoft.Network/loadBalancers/loadBalancingRules',
  'Microsoft.Network/dnsZones',
  'Microsoft.Network/dnsZones/A',
  'Microsoft.Network/dnsZones/TXT',
  'Microsoft.ManagedIdentity/userAssignedIdentities',
  'Microsoft.Compute/virtualMachineScaleSets',
  'Microsoft.Compute/virtualMachineScaleSets/virtualMachines',
  // Served by the network provider under the compute path, as in Azure.
  'Microsoft.Compute/virtualMachineScaleSets/networkInterfaces',
  'Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces',
] as const;

export const RESOURCE_GROUP_TYPE = 'Microsoft.Resources/resourceGroups';
export const ROLE_ASSIGNMENT_TYPE = 'Microsoft.Authorization/roleAssignments';

const canonicalType = new Map<string, string>(RESOURCE_TYPES.map((t) => [t.toLowerCase(), t]));

export type ArmTarget =
  | { kind: 'subscription'; subscriptionId: string }
  | { kind: 'resourceGroupList'; subscriptionId: string }
  | { kind: 'resourceGroup'; subscriptionId: string; resourceGroup: string }
  | { kind: 'operation'; subscriptionId: string; namespace: string; location: string; operationId: string; result: boolean }
  | { kind: 'resourceGroupOperation'; subscriptionId: string; operationId: string }
  | { kind: 'list'; subscriptionId: string; resourceGroup?: string; type: string; parent?: ResourceRef }
  | { kind: 'resource'; ref: ResourceRef; action?: string }
  | { kind: 'roleAssignment'; scope: string; name?: string };

/** A resource in a resource group, possibly nested: `names` runs parallel to the type's segments. */
export interface ResourceRef {
  subscriptionId: string;
  resourceGroup: string;
  /** Full type, e.g. Microsoft.Network/virtualNetworks/subnets. */
  type: string;
  names: string[];
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(s: string): boolean {
  return GUID.test(s);
}

export function parseArmPath(pathname: string): ArmTarget | undefined {
  const segs = pathname
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s));
  const lower = segs.map((s) => s.toLowerCase());

  // Extension resources first: the role-assignment suffix may follow any scope.
  for (let i = lower.length - 2; i >= 0; i--) {
    if (lower[i] === 'providers' && lower[i + 1] === 'microsoft.authorization' && lower[i + 2] === 'roleassignments') {
      if (lower.length > i + 4) return undefined;
      const scope = '/' + segs.slice(0, i).join('/');
      const name = segs[i + 3];
      return name === undefined ? { kind: 'roleAssignment', scope } : { kind: 'roleAssignment', scope, name };
    }
  }

  if (lower[0] !== 'subscriptions' || segs[1] === undefined) return undefined;
  const subscriptionId = segs[1];
  if (!isGuid(subscriptionId)) {
    throw badRequest('InvalidSubscriptionId', `The provided subscription identifier '${subscriptionId}' is malformed or invalid.`);
  }
  if (segs.length === 2) return { kind: 'subscription', subscriptionId };

  if (lower[2] === 'operationresults' && segs.length === 4) {
    return { kind: 'resourceGroupOperation', subscriptionId, operationId: segs[3]! };
  }
  if (lower[2] === 'providers') {
    const namespace = segs[3];
    if (namespace === undefined) return undefined;
    if (lower[4] === 'locations' && segs.length === 8 && ['operations', 'operationresults', 'operationstatuses'].includes(lower[6]!)) {
      return {
        kind: 'operation',
        subscriptionId,
        namespace,
        location: segs[5]!,
        operationId: segs[7]!,
        result: lower[6] === 'operationresults',
      };
    }
    if (segs.length === 5) return { kind: 'list', subscriptionId, type: resolveType(namespace, [segs[4]!]) };
    return undefined;
  }
  if (lower[2] !== 'resourcegroups') return undefined;
  if (segs.length === 3) return { kind: 'resourceGroupList', subscriptionId };
  const resourceGroup = segs[3]!;
  if (segs.length === 4) return { kind: 'resourceGroup', subscriptionId, resourceGroup };
  if (lower[4] !== 'providers' || segs[5] === undefined || segs.length < 7) return undefined;

  const namespace = segs[5];
  const rest = segs.slice(6);
  const typeSegs: string[] = [];
  const names: string[] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) {
    typeSegs.push(rest[i]!);
    names.push(rest[i + 1]!);
  }
  if (rest.length % 2 === 0) {
    return { kind: 'resource', ref: { subscriptionId, resourceGroup, type: resolveType(namespace, typeSegs), names } };
  }
  // An odd tail is either a child collection or an action on the resource before it.
  const last = rest[rest.length - 1]!;
  const collection = canonicalType.get(`${namespace}/${[...typeSegs, last].join('/')}`.toLowerCase());
  if (names.length === 0) return { kind: 'list', subscriptionId, resourceGroup, type: resolveType(namespace, [last]) };
  const ref: ResourceRef = { subscriptionId, resourceGroup, type: resolveType(namespace, typeSegs), names };
  if (collection) return { kind: 'list', subscriptionId, resourceGroup, type: collection, parent: ref };
  return { kind: 'resource', ref, action: last };
}

function resolveType(namespace: string, typeSegs: string[]): string {
  const wanted = `${namespace}/${typeSegs.join('/')}`;
  const t = canonicalType.get(wanted.toLowerCase());
  if (!t) {
    throw badRequest(
      'InvalidResourceType',
      `The resource type '${typeSegs.join('/')}' could not be found in the namespace '${namespace}'.`,
    );
  }
  return t;
}

/** The canonical id: Azure's casing for fixed segments, the caller's for names. */
export function resourceIdOf(ref: ResourceRef): string {
  const [ns, ...types] = ref.type.split('/');
  let id = `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${ns}`;
  types.forEach((t, i) => (id += `/${t}/${ref.names[i] ?? ''}`));
  return id;
}

export function resourceGroupIdOf(subscriptionId: string, resourceGroup: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}`;
}

export function parentRef(ref: ResourceRef): ResourceRef | undefined {
  if (ref.names.length < 2) return undefined;
  return { ...ref, type: ref.type.split('/').slice(0, -1).join('/'), names: ref.names.slice(0, -1) };
}

/** Parses a full resource id (as found in request bodies) back into a reference. */
export function parseResourceId(id: string): ResourceRef | undefined {
  try {
    const t = parseArmPath(id);
    return t?.kind === 'resource' && !t.action ? t.ref : undefined;
  } catch {
    return undefined;
  }
}

/** True when `scope` is `id` or one of its ancestors, compared per path segment, ignoring case. */
export function scopeCovers(scope: string, id: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const i = id.toLowerCase();
  return s === '' || i === s || i.startsWith(`${s}/`);
}
