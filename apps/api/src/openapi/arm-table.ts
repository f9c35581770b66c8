// ARM KNOWLEDGE TABLE: everything the API knows about Azure Resource Manager that the proto
// contract does not say. The OpenAPI generator (generate.ts, schemas.ts) is generic: it walks
// rpcRoutes() and the message descriptors and consults only this file and arm-lro.ts (long-running operations)
// for ARM conventions; the REST server (rest/arm-responses.ts) reads its status codes, headers,
// ETag routes and operation results from the same entries. A review of "what do we claim to ARM"
// is a review of these two files.
//
// Sources: the ARM RPC (Azure/azure-resource-manager-rpc v1.0), the LintDiff rules
// (test/api/lintdiff.test.ts), and common-types resource-management v5, whose shapes are copied
// into common-types.ts so the document is self-contained.
import { PATCHABLE_PROPERTIES } from '../../../../domain/cluster-patch.js';
import { MAX_CLUSTER_NAME, PROVIDER_NAMESPACE } from '../../../../domain/resource-id.js';
import type { HttpVerb } from '../contract.js';
import { API_VERSION } from '../api-version.js';
import { READ_ONLY_PROPERTIES } from '../service/views.js';
import { COMMON_DEFINITIONS, COMMON_PARAMETERS, stringEnum } from './common-types.js';

type Json = Record<string, unknown>;

export const PACKAGE = 'hcs.consul.v1';

export const ARM_DOCUMENT = {
  namespace: PROVIDER_NAMESPACE,
  apiVersion: API_VERSION,
  title: 'HCS Consul',
  description: 'Managed Consul clusters on Azure: the HCS.Consul resource provider.',
  host: 'management.azure.com',
};

/** Not customer-facing: ARM's subscription lifecycle and Marketplace notifications. */
export const EXCLUDED_SERVICES = new Set([`${PACKAGE}.NotificationService`]);

// ---------------------------------------------------------------------------------------------
// Parameters. Proto path variables map to ARM's parameter names; the common ones are defined
// once in the document's `parameters` (common-types shapes) and referenced.
// ---------------------------------------------------------------------------------------------

export const GLOBAL_PARAMETERS: Record<string, Json> = {
  ...COMMON_PARAMETERS,
  // domain/resource-id.ts checkClusterName: 3 to MAX_CLUSTER_NAME lower-case letters, digits,
  // hyphens; starts with a letter, does not end with a hyphen.
  ClusterNameParameter: {
    name: 'clusterName',
    in: 'path',
    required: true,
    type: 'string',
    pattern: `^[a-z][a-z0-9-]{1,${MAX_CLUSTER_NAME - 2}}[a-z0-9]$`,
    minLength: 3,
    maxLength: MAX_CLUSTER_NAME,
    description: 'The name of the Consul cluster.',
    'x-ms-parameter-location': 'method',
  },
};

/** Proto path variable -> global parameter. Every path variable must be listed. */
export const PATH_PARAMETERS: Record<string, string> = {
  subscription_id: 'SubscriptionIdParameter',
  resource_group: 'ResourceGroupNameParameter',
  cluster_name: 'ClusterNameParameter',
  location: 'LocationParameter',
  operation_id: 'OperationIdParameter',
};

/** Request fields the REST server reads from headers or the query string (see rest/server.ts requestInput). */
export const NON_BODY_FIELDS: Record<string, Json> = {
  if_match: { name: 'If-Match', in: 'header' },
  if_none_match: { name: 'If-None-Match', in: 'header' },
  skip_token: { name: '$skipToken', in: 'query' },
  top: { name: '$top', in: 'query', minimum: 1, maximum: 1000 },
  filter: { name: '$filter', in: 'query' },
};

// ---------------------------------------------------------------------------------------------
// Operation ids: `Noun_Verb`. Explicit names for the ARM CRUD verbs and operation statuses; any
// other RPC gets the generic rule in operationIdFor().
// ---------------------------------------------------------------------------------------------

export const OPERATION_IDS: Record<string, string> = {
  CreateOrReplaceCluster: 'Clusters_CreateOrUpdate',
  GetCluster: 'Clusters_Get',
  ListClustersByResourceGroup: 'Clusters_ListByResourceGroup',
  ListClustersBySubscription: 'Clusters_ListBySubscription',
  UpdateCluster: 'Clusters_Update',
  DeleteCluster: 'Clusters_Delete',
  GetOperation: 'OperationStatuses_Get',
  CancelOperation: 'OperationStatuses_Cancel',
  ListOperations: 'OperationStatuses_ListByCluster',
  ListAuditLogs: 'AuditLogs_ListBySubscription',
};

/** Generic rule: noun = the last resource type in the path (`clusters` -> `Clusters`); verb = the RPC name minus that type's singular. */
export function operationIdFor(rpc: string, path: string): string {
  const explicit = OPERATION_IDS[rpc];
  if (explicit) return explicit;
  const types = [...path.matchAll(/\/([A-Za-z]+)\/\{[a-z_]+\}/g)]
    .map((m) => m[1]!)
    .filter((t) => t !== 'subscriptions' && t !== 'resourceGroups');
  const type = types[types.length - 1];
  if (!type) throw new Error(`no resource type in ${path} for ${rpc}: add it to OPERATION_IDS`);
  const singular = type.replace(/s$/, '');
  const verb = rpc.replace(new RegExp(`${singular}(?=[A-Z]|$)`, 'i'), '') || rpc;
  return `${type[0]!.toUpperCase()}${type.slice(1)}_${verb}`;
}

/** Operation groups (the operationId noun) in the document's tags. */
export const TAG_DESCRIPTIONS: Record<string, string> = {
  Clusters: 'Managed Consul clusters and their actions.',
  OperationStatuses: 'Status and cancellation of asynchronous operations.',
  Operations: 'The operations the resource provider offers.',
  AuditLogs: "The resource provider's audit log: mutating requests and operation state changes.",
};

// ---------------------------------------------------------------------------------------------
// Long-running operations (the rest is in arm-lro.ts).
// ---------------------------------------------------------------------------------------------

/** Polling headers of 202 answers (rest/arm-responses.ts). */
export const LRO_HEADERS: Json = {
  Location: { type: 'string', description: 'URL to poll for the result (202 while running, then what the synchronous call answers).' },
  'Azure-AsyncOperation': { type: 'string', description: 'URL of the operation status document.' },
  'Retry-After': { type: 'integer', format: 'int32', description: 'Seconds to wait before polling again.' },
};

/** PUT answers 200/201 with the resource and (while work continues) Azure-AsyncOperation. */
export const PUT_HEADERS: Json = { 'Azure-AsyncOperation': LRO_HEADERS['Azure-AsyncOperation'] };

/**
 * Status codes per verb, for synchronous and long-running RPCs (ARM RPC; LintDiff
 * PutResponseCodes, PatchResponseCodes, DeleteResponseCodes, PostResponseCodes). `body`: the
 * RPC's REST body; `result`: what the Location URL finally answers (LRO_FINAL_RESULTS; the
 * response is left out for an RPC that yields nothing); no body: none. Every operation also gets
 * the `default` error response.
 */
export interface ResponseSpec {
  description: string;
  body?: 'body' | 'result';
  headers?: Json;
}
const ACCEPTED: ResponseSpec = {
  description: 'Accepted: the operation continues asynchronously; poll the Location URL.',
  headers: LRO_HEADERS,
};
const GONE: ResponseSpec = { description: 'The resource does not exist.' };
export const RESPONSES: Record<HttpVerb, { sync: Record<string, ResponseSpec>; lro: Record<string, ResponseSpec> }> = {
  put: {
    sync: {
      200: { description: 'The resource existed and was updated.', body: 'body' },
      201: { description: 'The resource was created.', body: 'body' },
    },
    lro: {
      200: {
        description: 'The resource existed and was replaced; work continues while provisioningState is not terminal.',
        body: 'body',
        headers: PUT_HEADERS,
      },
      201: {
        description: 'The resource was created; work continues while provisioningState is not terminal.',
        body: 'body',
        headers: PUT_HEADERS,
      },
    },
  },
  get: { sync: { 200: { description: 'The request succeeded.', body: 'body' } }, lro: {} },
  patch: {
    sync: { 200: { description: 'The resource was updated.', body: 'body' } },
    lro: { 200: { description: 'The resource was updated.', body: 'body' }, 202: ACCEPTED },
  },
  delete: {
    sync: { 200: { description: 'The resource was deleted.' }, 204: GONE },
    lro: { 202: ACCEPTED, 204: GONE },
  },
  post: {
    sync: { 200: { description: 'The request succeeded.', body: 'body' } },
    lro: {
      200: { description: 'The operation succeeded: what it yields (also the final answer of the Location URL).', body: 'result' },
      202: ACCEPTED,
    },
  },
};

/**
 * The status code the REST server answers a call with (rest/arm-responses.ts): always one that
 * RESPONSES lists for the verb. PUT: 201 when the resource was created, else 200; DELETE of
 * nothing: 204; a long-running RPC whose operation still runs: 202; otherwise 200.
 */
export function successStatus(verb: HttpVerb, longRunning: boolean, o: { running: boolean; created?: boolean; existed?: boolean }): number {
  if (verb === 'put') return o.created ? 201 : 200;
  if (verb === 'delete' && o.existed === false) return 204;
  if (longRunning && o.running) return 202;
  return 200;
}

/** Routes that send the resource's ETag header (rest/arm-responses.ts; documented per route). */
export const ETAG_RPCS = new Set(['CreateOrReplaceCluster', 'GetCluster', 'UpdateCluster']);

// ---------------------------------------------------------------------------------------------
// Definitions: names and ARM-only annotations of proto messages and fields.
// ---------------------------------------------------------------------------------------------

/** The tracked resource (x-ms-azure-resource) and its PATCH model. */
export const TRACKED_RESOURCE = `${PACKAGE}.Cluster`;

/** Renames; other messages keep their proto name, request bodies become `<Rpc>Parameters`, responses `<Rpc>Result` or `<Item>ListResult`. */
export const DEFINITION_NAMES: Record<string, string> = {
  [`${PACKAGE}.Operation`]: 'OperationStatusResult',
  [`${PACKAGE}.OperationProperties`]: 'OperationStatusProperties',
};

/**
 * PATCH body models: JSON merge patch of the listed fields only (domain/cluster-patch.ts), no
 * required fields, no defaults (LintDiff PatchBodyParametersSchema).
 */
export const PATCH_MODELS: Record<
  string,
  { name: string; fields: readonly string[]; nested?: Record<string, { name: string; fields: readonly string[] }> }
> = {
  [TRACKED_RESOURCE]: {
    name: 'ClusterUpdate',
    fields: ['tags', 'properties'],
    nested: { properties: { name: 'ClusterUpdateProperties', fields: PATCHABLE_PROPERTIES } },
  },
};

const createOnly = { 'x-ms-mutability': ['read', 'create'] };
const readOnly = { readOnly: true };
const secret = { 'x-ms-secret': true };

/**
 * Field annotations keyed `Message.field` (proto names). `$ref` replaces the proto type with a
 * definition from ARM_DEFINITIONS.
 */
export const FIELD_OVERRIDES: Record<string, Json> = {
  'Cluster.id': readOnly,
  'Cluster.name': readOnly,
  'Cluster.type': readOnly,
  'Cluster.system_data': readOnly,
  'Cluster.etag': readOnly,
  'Cluster.location': createOnly,
  'Cluster.tags': { 'x-ms-mutability': ['read', 'create', 'update'] },
  // Immutable after create (domain/cluster-spec.ts); the version changes through the upgrade action.
  'ClusterProperties.consul_version': createOnly,
  'ClusterProperties.datacenter': createOnly,
  'ClusterProperties.network': createOnly,
  'ClusterProperties.public_endpoint': createOnly,
  // A bearer credential for joining the primary's federation: sent on create, never returned.
  'ClusterProperties.federation_token': { ...secret, 'x-ms-mutability': ['create'] },
  'ClusterProperties.provisioning_state': { $ref: '#/definitions/ProvisioningState' },
  'SystemData.created_by_type': { $ref: '#/definitions/CreatedByType' },
  'SystemData.last_modified_by_type': { $ref: '#/definitions/CreatedByType' },
  'Operation.status': { $ref: '#/definitions/OperationStatus' },
  'CreateRootTokenResponse.secret_id': secret,
  'RootToken.secret_id': secret,
  'PeeringToken.peering_token': secret,
  'EstablishPeeringRequest.peering_token': secret,
  'CreateFederationTokenResponse.federation_token': secret,
  // Contains the gossip encryption key.
  'ListClientConfigResponse.client_config_json': secret,
};

/** Definition-level annotations by proto message name. systemData is read-only as a whole (common-types). */
export const MESSAGE_OVERRIDES: Record<string, Json> = {
  SystemData: readOnly,
};

/** x-ms-identifiers of arrays of objects without an `id` (how clients match items across calls). */
export const IDENTIFIERS: Record<string, readonly string[]> = {
  'ErrorDetail.details': ['message', 'target'],
  'ListUpgradeVersionsResponse.value': ['version'],
};

/** The read-only status fields under properties (service/views.ts), by JSON name. */
export const READ_ONLY_JSON_FIELDS: Record<string, readonly string[]> = {
  ClusterProperties: READ_ONLY_PROPERTIES,
  // Audit log entries are written by the service alone.
  AuditLogEntry: ['id', 'name', 'type'],
};

/** Required fields by proto message name (JSON names); checked against domain/cluster-schema.ts by the tests. */
export const REQUIRED_FIELDS: Record<string, readonly string[]> = {
  Cluster: ['location', 'properties'],
  ClusterProperties: ['network'],
  NetworkProfile: ['cidr'],
  MaintenanceWindow: ['days', 'startTime', 'durationHours', 'timeZone'],
  GetSnapshotRequest: ['snapshotId'],
  RenameSnapshotRequest: ['snapshotId', 'name'],
  DeleteSnapshotRequest: ['snapshotId'],
  RestoreSnapshotRequest: ['snapshotId'],
  UpgradeClusterRequest: ['consulVersion'],
  RestartServerRequest: ['serverIndex'],
  RepairServerRequest: ['serverIndex'],
  GetBillingReportRequest: ['month'],
  Operation: ['status'],
  RootToken: ['accessorId', 'secretId'],
  PeeringToken: ['peerName', 'peeringToken'],
  GeneratePeeringTokenRequest: ['peerName'],
  EstablishPeeringRequest: ['peerName', 'peeringToken'],
};

/** ARM's terminal states (Succeeded, Failed, Canceled) and the non-terminal ones the proto lists (Cluster.provisioning_state). */
export const PROVISIONING_STATES = ['Succeeded', 'Failed', 'Canceled', 'Accepted', 'Provisioning', 'Updating', 'Deleting'];

/** Definitions that exist only on the ARM side: common-types copies plus our enums. */
export const ARM_DEFINITIONS: Record<string, Json> = {
  ...COMMON_DEFINITIONS,
  // readOnly on the definition itself: LintDiff resolves $refs and drops sibling keywords.
  ProvisioningState: { ...stringEnum('ProvisioningState', 'The provisioning state of the resource.', PROVISIONING_STATES), readOnly: true },
  OperationStatus: stringEnum('OperationStatus', 'The status of an asynchronous operation.', [
    'Accepted',
    'Scheduled',
    'Running',
    'Canceling',
    'Succeeded',
    'Failed',
    'Canceled',
  ]),
};

/** ARM-only path: GET /providers/{namespace}/operations (rest/server.ts serves it from the contract). */
export const OPERATIONS_API = {
  path: `/providers/${PROVIDER_NAMESPACE}/operations`,
  operationId: 'Operations_List',
  description: 'Lists the operations the HCS.Consul resource provider offers.',
  resultDefinition: 'OperationListResult',
};
