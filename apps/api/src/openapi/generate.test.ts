// The committed OpenAPI document never drifts from the proto contract, and says what the REST
// server does (status codes, LRO headers, paging) and what the domain validation accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterBodySchema, clusterFieldCatalogue } from '../../../../domain/cluster-schema.js';
import { PATCHABLE_PROPERTIES } from '../../../../domain/cluster-patch.js';
import { rpcRoutes } from '../contract.js';
import { MAX_CLUSTER_NAME } from '../../../../domain/resource-id.js';
import { EXCLUDED_SERVICES } from './arm-table.js';
import { UNDOCUMENTED_RPCS } from './arm-lro.js';
import { generateOpenApi, OPENAPI_FILE, renderOpenApi } from './generate.js';

interface Schema {
  $ref?: string;
  type?: string;
  readOnly?: boolean;
  required?: string[];
  enum?: string[];
  description?: string;
  properties?: Record<string, Schema>;
  'x-ms-azure-resource'?: boolean;
}
interface Response {
  schema?: Schema;
  headers?: Record<string, unknown>;
}
interface Operation {
  operationId: string;
  parameters: Array<{ $ref?: string; name?: string; in?: string }>;
  responses: Record<string, Response>;
  'x-ms-pageable'?: { nextLinkName: string | null };
  'x-ms-long-running-operation'?: boolean;
  'x-ms-long-running-operation-options'?: { 'final-state-via': string; 'final-state-schema'?: string };
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
  definitions: Record<string, Schema>;
  parameters: Record<string, { name: string }>;
}

const repoRoot = join(import.meta.dirname, '..', '..', '..', '..');
const doc = generateOpenApi() as unknown as Doc;
const operations = Object.entries(doc.paths).flatMap(([path, verbs]) => Object.entries(verbs).map(([verb, op]) => ({ path, verb, ...op })));
const op = (id: string) => {
  const found = operations.find((o) => o.operationId === id);
  if (!found) throw new Error(`no operation ${id}`);
  return found;
};
const def = (name: string): Schema => {
  const d = doc.definitions[name];
  if (!d) throw new Error(`no definition ${name}`);
  return d;
};
const refName = (s: Schema | undefined) => s?.$ref?.replace('#/definitions/', '');

describe('generated OpenAPI document', () => {
  it(`is committed as ${OPENAPI_FILE}, byte for byte (run: npx tsx scripts/generate-openapi.ts)`, () => {
    const committed = readFileSync(join(repoRoot, OPENAPI_FILE), 'utf8');
    expect(committed).toBe(renderOpenApi(doc as unknown as Record<string, unknown>));
  });

  it('says maxLength wherever the API limits a string (field-limits.ts), ARM names and tags as ARM does', () => {
    const params = doc.parameters as unknown as Record<string, { maxLength?: number }>;
    expect(params.SubscriptionIdParameter?.maxLength).toBe(36);
    expect(params.ResourceGroupNameParameter?.maxLength).toBe(90);
    expect(params.ClusterNameParameter?.maxLength).toBe(MAX_CLUSTER_NAME);
    const props = (name: string) =>
      def(name).properties as Record<string, { maxLength?: number; additionalProperties?: { maxLength?: number } }>;
    expect(props('Cluster').tags?.additionalProperties?.maxLength).toBe(256);
    expect(props('ClusterProperties').federationToken?.maxLength).toBe(8192);
    expect(props('GetBillingReportParameters').month?.maxLength).toBe(16);
    const skip = op('Clusters_ListBySubscription').parameters.find((p) => p.name === '$skipToken') as { maxLength?: number } | undefined;
    expect(skip?.maxLength).toBe(2048);
    // Response-only messages carry no invented limits.
    expect(JSON.stringify(def('ListClientConfigResult'))).not.toContain('maxLength');
  });

  it('is deterministic', () => {
    expect(renderOpenApi()).toBe(renderOpenApi());
  });

  it('has one operation per customer-facing RPC route, plus the ARM Operations API', () => {
    const routes = rpcRoutes().filter((r) => !EXCLUDED_SERVICES.has(r.service.typeName) && !UNDOCUMENTED_RPCS.has(r.method.name));
    expect(operations).toHaveLength(routes.length + 1);
    expect(new Set(operations.map((o) => o.operationId)).size).toBe(operations.length);
    for (const o of operations) expect(o.operationId).toMatch(/^[A-Z][A-Za-z]+_[A-Z][A-Za-z]+$/);
    expect(op('Operations_List').path).toBe('/providers/HCS.Consul/operations');
    // Subscription lifecycle and Marketplace notifications are not in the customer-facing spec.
    expect(Object.keys(doc.paths)).not.toContain('/subscriptions/{subscriptionId}');
    expect(Object.keys(doc.paths)).not.toContain('/resource');
  });

  it('uses ARM path parameter names and the shared parameter definitions', () => {
    for (const path of Object.keys(doc.paths)) expect(path).not.toMatch(/\{[a-z]+_[a-z_]+\}/);
    const get = op('Clusters_Get');
    expect(get.path).toBe('/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/HCS.Consul/clusters/{clusterName}');
    expect(get.parameters.map((p) => p.$ref)).toEqual([
      '#/parameters/SubscriptionIdParameter',
      '#/parameters/ResourceGroupNameParameter',
      '#/parameters/ClusterNameParameter',
      '#/parameters/ApiVersionParameter',
    ]);
    expect(doc.parameters.ApiVersionParameter?.name).toBe('api-version');
    expect(op('OperationStatuses_Get').path).toBe(
      '/subscriptions/{subscriptionId}/providers/HCS.Consul/locations/{location}/operationStatuses/{operationId}',
    );
  });

  it('PUT answers 200 and 201 with the resource and is an LRO finishing via Azure-AsyncOperation', () => {
    const put = op('Clusters_CreateOrUpdate');
    expect(put.verb).toBe('put');
    expect(Object.keys(put.responses).sort()).toEqual(['200', '201', 'default']);
    expect(refName(put.responses['200']?.schema)).toBe('Cluster');
    expect(refName(put.responses['201']?.schema)).toBe('Cluster');
    expect(put.responses['201']?.headers).toHaveProperty('Azure-AsyncOperation');
    expect(put['x-ms-long-running-operation']).toBe(true);
    expect(put['x-ms-long-running-operation-options']).toEqual({
      'final-state-via': 'azure-async-operation',
      'final-state-schema': '#/definitions/Cluster',
    });
    expect(put.parameters).toContainEqual(expect.objectContaining({ name: 'If-None-Match', in: 'header' }));
  });

  it('DELETE answers 202 with Location or 204, without bodies', () => {
    const del = op('Clusters_Delete');
    expect(Object.keys(del.responses).sort()).toEqual(['202', '204', 'default']);
    expect(del.responses['202']?.headers).toHaveProperty('Location');
    expect(del.responses['202']?.headers).toHaveProperty('Retry-After');
    expect(del.responses['202']?.schema).toBeUndefined();
    expect(del.responses['204']?.schema).toBeUndefined();
    // A delete yields nothing: no final-state-schema.
    expect(del['x-ms-long-running-operation-options']).toEqual({ 'final-state-via': 'location' });
  });

  it('PATCH takes the update model and answers 200 or 202 with Location', () => {
    const patch = op('Clusters_Update');
    expect(Object.keys(patch.responses).sort()).toEqual(['200', '202', 'default']);
    expect(patch.responses['202']?.headers).toHaveProperty('Location');
    expect(patch['x-ms-long-running-operation-options']).toEqual({
      'final-state-via': 'location',
      'final-state-schema': '#/definitions/Cluster',
    });
    const body = patch.parameters.find((p) => p.in === 'body') as { schema: Schema } | undefined;
    expect(refName(body?.schema)).toBe('ClusterUpdate');
    expect(Object.keys(def('ClusterUpdate').properties ?? {}).sort()).toEqual(['properties', 'tags']);
    expect(Object.keys(def('ClusterUpdateProperties').properties ?? {}).sort()).toEqual([...PATCHABLE_PROPERTIES].sort());
    expect(def('MaintenanceWindowUpdate').required).toBeUndefined();
  });

  it('long-running POST actions answer 202 with Location and declare what each finally yields; synchronous ones 200', () => {
    const yields: Record<string, string> = {
      Clusters_CreateSnapshot: 'SnapshotOperationResult',
      Clusters_Upgrade: 'Cluster',
      Clusters_RestoreSnapshot: 'Cluster',
      Clusters_DeleteSnapshot: 'Cluster',
      Clusters_CreateRootToken: 'RootToken',
    };
    for (const [id, result] of Object.entries(yields)) {
      const post = op(id);
      expect(post.responses['202']?.headers, id).toHaveProperty('Location');
      expect(refName(post.responses['200']?.schema), id).toBe(result);
      expect(post['x-ms-long-running-operation-options'], id).toEqual({
        'final-state-via': 'location',
        'final-state-schema': `#/definitions/${result}`,
      });
    }
    expect(Object.keys(def('RootToken').properties ?? {}).sort()).toEqual(['accessorId', 'secretId']);
    expect(def('RootToken').properties?.secretId).toMatchObject({ 'x-ms-secret': true });
    expect(refName(def('SnapshotOperationResult').properties?.snapshot)).toBe('Snapshot');
    for (const id of ['Clusters_ListClientConfig', 'Clusters_GetBillingInfo', 'OperationStatuses_Cancel']) {
      expect(Object.keys(op(id).responses).sort(), id).toEqual(['200', 'default']);
      expect(op(id)['x-ms-long-running-operation'], id).toBeUndefined();
    }
  });

  it('lists are pageable with nextLink and return { value, nextLink }', () => {
    for (const id of [
      'Clusters_ListByResourceGroup',
      'Clusters_ListBySubscription',
      'OperationStatuses_ListByCluster',
      'Operations_List',
    ]) {
      const list = op(id);
      expect(list['x-ms-pageable'], id).toEqual({ nextLinkName: 'nextLink' });
      expect(Object.keys(def(refName(list.responses['200']?.schema) ?? '').properties ?? {}).sort(), id).toEqual(['nextLink', 'value']);
    }
    expect(refName(op('Clusters_ListBySubscription').responses['200']?.schema)).toBe('ClusterListResult');
    expect(op('Clusters_ListByResourceGroup').parameters).toContainEqual(expect.objectContaining({ name: '$skipToken', in: 'query' }));
  });

  it('every operation has a default ErrorResponse', () => {
    for (const o of operations) expect(refName(o.responses.default?.schema), o.operationId).toBe('ErrorResponse');
    expect(refName(def('ErrorResponse').properties?.error)).toBe('ErrorDetail');
  });

  it('models the tracked resource as ARM does', () => {
    const cluster = def('Cluster');
    expect(cluster['x-ms-azure-resource']).toBe(true);
    expect(cluster.description).toBe('A managed Consul cluster, shaped as an Azure Resource Manager tracked resource.');
    for (const name of ['id', 'name', 'type', 'systemData', 'etag']) expect(cluster.properties?.[name]?.readOnly, name).toBe(true);
    const props = def('ClusterProperties').properties ?? {};
    for (const name of ['provisioningState', 'currentConsulVersion', 'privateEndpointUrl', 'publicEndpointUrl'])
      expect(props[name]?.readOnly, name).toBe(true);
    expect(refName(props.provisioningState)).toBe('ProvisioningState');
    expect(def('ProvisioningState').enum).toEqual(expect.arrayContaining(['Succeeded', 'Failed', 'Canceled', 'Accepted']));
    expect(def('SystemData').readOnly).toBe(true);
    expect(def('SystemData').properties?.createdAt).toMatchObject({ type: 'string', format: 'date-time' });
  });

  it('states the same writable and required fields as the domain validation of a cluster body', () => {
    // Object paths of the PUT body and the definitions that describe them.
    const objects: Record<string, string> = {
      '': 'Cluster',
      properties: 'ClusterProperties',
      'properties.network': 'NetworkProfile',
      'properties.upgradePolicy': 'UpgradePolicy',
      'properties.maintenanceWindow': 'MaintenanceWindow',
      'properties.snapshotPolicy': 'SnapshotPolicy',
    };
    const full = {
      location: 'westeurope',
      tags: { env: 'test' },
      properties: {
        consulVersion: '1.22.7',
        serverCount: 3,
        datacenter: 'dc1',
        network: { cidr: '10.0.0.0/16' },
        publicEndpoint: false,
        upgradePolicy: { automaticPatchUpgrades: true },
        maintenanceWindow: { days: ['Saturday'], startTime: '02:00', durationHours: 4, timeZone: 'UTC' },
        snapshotPolicy: { intervalHours: 1, retentionCount: 8 },
      },
    };
    expect(clusterBodySchema.safeParse(full).success).toBe(true);
    for (const [path, name] of Object.entries(objects)) {
      const d = def(name);
      const writable = Object.entries(d.properties ?? {})
        .filter(([, s]) => !s.readOnly)
        .map(([k]) => k);
      expect(writable.sort(), name).toEqual([...(clusterFieldCatalogue.objects[path] ?? [])].sort());
      for (const field of writable) {
        const body = structuredClone(full) as Record<string, unknown>;
        const parent =
          path === ''
            ? body
            : (path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], body) as Record<string, unknown>);
        delete parent[field];
        const accepted = clusterBodySchema.safeParse(body).success;
        expect(accepted, `${name}.${field} is ${accepted ? 'optional' : 'required'} in the domain`).toBe(
          !(d.required ?? []).includes(field),
        );
      }
    }
  });
});
