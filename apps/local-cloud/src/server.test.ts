// The twin's ARM surface through the official SDKs and raw HTTP: authentication, api-version,
// ARM error bodies, resource groups, networks, identities and role assignments.
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { ManagedServiceIdentityClient } from '@azure/arm-msi';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ManagedIdentityCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCall } from '../../../lib/http.js';
import { startTestCloud, type TestCloud } from './testing.js';

let t: TestCloud;
let sub: string;
beforeAll(async () => {
  t = await startTestCloud();
  sub = t.cloud.subscriptionId;
});
afterAll(async () => {
  await t?.dispose();
});

const resources = () => new ResourceManagementClient(t.credential, sub, t.clientOptions);
const network = () => new NetworkManagementClient(t.credential, sub, t.clientOptions);
const msi = () => new ManagedServiceIdentityClient(t.credential, sub, t.clientOptions);
const authz = () => new AuthorizationManagementClient(t.credential, sub, t.clientOptions);
const token = async () => (await t.credential.getToken('https://management.azure.com/.default')).token;
const call = async (method: string, path: string, body?: unknown, auth = true) =>
  httpCall(`${t.cloud.url}${path}`, {
    method,
    ca: t.cloud.caCertPem,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headers: auth ? { authorization: `Bearer ${await token()}` } : {},
  });

describe('authentication and errors', () => {
  it('answers 401 with an ARM error without a token, and with a forged one', async () => {
    const res = await call('GET', `/subscriptions/${sub}/resourcegroups?api-version=2021-04-01`, undefined, false);
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'AuthenticationFailed', message: expect.stringContaining('Authorization') } });
    expect(res.headers['x-ms-request-id']).toBeTruthy();
    expect(res.headers['www-authenticate']).toContain('Bearer');

    const [h, p] = (await token()).split('.');
    const forged = await httpCall(`${t.cloud.url}/subscriptions/${sub}/resourcegroups?api-version=2021-04-01`, {
      ca: t.cloud.caCertPem,
      headers: { authorization: `Bearer ${h}.${p}.AAAA` },
    });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.body).error.code).toBe('InvalidAuthenticationToken');
  });

  it('refuses a wrong client secret at the token endpoint', async () => {
    const res = await httpCall(`${t.cloud.url}/${t.cloud.tenantId}/oauth2/v2.0/token`, {
      method: 'POST',
      ca: t.cloud.caCertPem,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: t.cloud.clientCredentials.clientId,
        client_secret: 'wrong',
        scope: 'https://management.azure.com/.default',
      }).toString(),
    });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
  });

  it('serves MSAL Go through the "adfs" tenant alias, ignoring the OIDC scopes it adds', async () => {
    const config = await httpCall(`${t.cloud.url}/adfs/.well-known/openid-configuration`, { ca: t.cloud.caCertPem });
    const { token_endpoint, issuer, authorization_endpoint } = JSON.parse(config.body);
    expect(issuer && authorization_endpoint).toBeTruthy();
    const res = await httpCall(token_endpoint, {
      method: 'POST',
      ca: t.cloud.caCertPem,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: t.cloud.clientCredentials.clientId,
        client_secret: t.cloud.clientCredentials.clientSecret,
        scope: 'https://management.core.windows.net//.default openid offline_access profile',
      }).toString(),
    });
    expect(res.status).toBe(200);
    const { access_token } = JSON.parse(res.body);
    const arm = await httpCall(`${t.cloud.url}/subscriptions/${sub}/resourcegroups?api-version=2021-04-01`, {
      ca: t.cloud.caCertPem,
      headers: { authorization: `Bearer ${access_token}` },
    });
    expect(arm.status).toBe(200);
  });

  it("answers ManagedIdentityCredential for the control plane's own identity header", async () => {
    const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
    process.env.IDENTITY_ENDPOINT = t.cloud.controlPlaneIdentity.endpoint;
    process.env.IDENTITY_HEADER = t.cloud.controlPlaneIdentity.header;
    try {
      const credential = new ManagedIdentityCredential({ tlsOptions: { ca: t.cloud.caCertPem } });
      const groups = new ResourceManagementClient(credential, sub, t.clientOptions).resourceGroups.list();
      for await (const g of groups) expect(g.id).toBeTruthy();
      await expect(
        new ManagedIdentityCredential({ tlsOptions: { ca: t.cloud.caCertPem }, retryOptions: { maxRetries: 0 } }).getToken(
          'https://storage.azure.com/.default',
        ),
      ).resolves.toMatchObject({ token: expect.any(String) });
    } finally {
      for (const [k, v] of [
        ['IDENTITY_ENDPOINT', saved.endpoint],
        ['IDENTITY_HEADER', saved.header],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('requires a well-formed api-version', async () => {
    const missing = await call('GET', `/subscriptions/${sub}/resourcegroups`);
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error.code).toBe('MissingApiVersionParameter');
    expect(missing.headers['x-ms-error-code']).toBe('MissingApiVersionParameter');
    const bad = await call('GET', `/subscriptions/${sub}/resourcegroups?api-version=latest`);
    expect(JSON.parse(bad.body).error.code).toBe('UnsupportedApiVersionValue');
  });

  it('answers ResourceNotFound, ResourceGroupNotFound and rejects bad JSON', async () => {
    await resources().resourceGroups.createOrUpdate('rg-errors', { location: 'westeurope' });
    const missing = await call(
      'GET',
      `/subscriptions/${sub}/resourceGroups/rg-errors/providers/Microsoft.Network/virtualNetworks/nope?api-version=2024-05-01`,
    );
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body).error.code).toBe('ResourceNotFound');
    const noGroup = await call(
      'PUT',
      `/subscriptions/${sub}/resourceGroups/rg-absent/providers/Microsoft.ManagedIdentity/userAssignedIdentities/x?api-version=2023-01-31`,
      {
        location: 'westeurope',
      },
    );
    expect(noGroup.status).toBe(404);
    expect(JSON.parse(noGroup.body).error.code).toBe('ResourceGroupNotFound');
    const badJson = await httpCall(`${t.cloud.url}/subscriptions/${sub}/resourceGroups/rg-x?api-version=2021-04-01`, {
      method: 'PUT',
      ca: t.cloud.caCertPem,
      headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
      body: '{nope',
    });
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.body).error.code).toBe('InvalidRequestContent');
  });
});

describe('resources through the official SDKs', () => {
  it('creates, reads, lists and deletes resource groups (@azure/arm-resources)', async () => {
    const rg = await resources().resourceGroups.createOrUpdate('rg-Life', { location: 'West Europe', tags: { a: 'b' } });
    expect(rg).toMatchObject({ name: 'rg-Life', location: 'westeurope', tags: { a: 'b' }, properties: { provisioningState: 'Succeeded' } });
    expect(rg.id).toBe(`/subscriptions/${sub}/resourceGroups/rg-Life`);
    expect((await resources().resourceGroups.checkExistence('RG-life')).body).toBe(true);
    const names: string[] = [];
    for await (const g of resources().resourceGroups.list()) names.push(g.name!);
    expect(names).toContain('rg-Life');
    await resources().resourceGroups.beginDeleteAndWait('rg-life', { updateIntervalInMs: 100 });
    expect((await resources().resourceGroups.checkExistence('rg-Life')).body).toBe(false);
  });

  it('builds a network with subnets (inline and child) and an NSG (@azure/arm-network)', async () => {
    await resources().resourceGroups.createOrUpdate('rg-net', { location: 'westeurope' });
    const nsg = await network().networkSecurityGroups.beginCreateOrUpdateAndWait(
      'rg-net',
      'nsg',
      {
        location: 'westeurope',
        securityRules: [
          {
            name: 'consul-rpc',
            priority: 100,
            direction: 'Inbound',
            access: 'Allow',
            protocol: 'Tcp',
            sourcePortRange: '*',
            destinationPortRange: '8300',
            sourceAddressPrefix: 'VirtualNetwork',
            destinationAddressPrefix: '*',
          },
        ],
      },
      { updateIntervalInMs: 100 },
    );
    expect(nsg.provisioningState).toBe('Succeeded');
    expect(nsg.securityRules?.[0]).toMatchObject({ name: 'consul-rpc', provisioningState: 'Succeeded', priority: 100 });
    expect(nsg.defaultSecurityRules).toHaveLength(6);

    const vnet = await network().virtualNetworks.beginCreateOrUpdateAndWait(
      'rg-net',
      'vnet',
      {
        location: 'westeurope',
        addressSpace: { addressPrefixes: ['10.10.0.0/16'] },
        subnets: [{ name: 'servers', addressPrefix: '10.10.1.0/24', networkSecurityGroup: { id: nsg.id! } }],
      },
      { updateIntervalInMs: 100 },
    );
    expect(vnet.provisioningState).toBe('Succeeded');
    expect(vnet.subnets?.[0]).toMatchObject({ name: 'servers', addressPrefix: '10.10.1.0/24', provisioningState: 'Succeeded' });

    const child = await network().subnets.beginCreateOrUpdateAndWait(
      'rg-net',
      'vnet',
      'extra',
      { addressPrefix: '10.10.2.0/24' },
      { updateIntervalInMs: 100 },
    );
    expect(child).toMatchObject({ id: `${vnet.id}/subnets/extra`, provisioningState: 'Succeeded' });
    const listed: string[] = [];
    for await (const s of network().subnets.list('rg-net', 'vnet')) listed.push(s.name!);
    expect(listed.sort()).toEqual(['extra', 'servers']);

    await expect(
      network().subnets.beginCreateOrUpdateAndWait('rg-net', 'vnet', 'outside', { addressPrefix: '10.99.0.0/24' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'NetcfgSubnetRangeOutsideVnet' });
    await expect(
      network().subnets.beginCreateOrUpdateAndWait('rg-net', 'vnet', 'overlap', { addressPrefix: '10.10.1.128/25' }),
    ).rejects.toMatchObject({ statusCode: 400, code: 'NetcfgSubnetRangesOverlap' });
    // The NSG is in use by a subnet.
    await expect(network().networkSecurityGroups.beginDeleteAndWait('rg-net', 'nsg')).rejects.toMatchObject({
      code: 'InUseNetworkSecurityGroupCannotBeDeleted',
    });

    await network().subnets.beginDeleteAndWait('rg-net', 'vnet', 'extra', { updateIntervalInMs: 100 });
    await expect(network().subnets.get('rg-net', 'vnet', 'extra')).rejects.toMatchObject({ statusCode: 404 });
  });

  it('creates identities and role assignments (@azure/arm-msi, @azure/arm-authorization)', async () => {
    await resources().resourceGroups.createOrUpdate('rg-id', { location: 'westeurope' });
    const identity = await msi().userAssignedIdentities.createOrUpdate('rg-id', 'cluster-id', { location: 'westeurope' });
    expect(identity).toMatchObject({ tenantId: t.cloud.tenantId, type: 'Microsoft.ManagedIdentity/userAssignedIdentities' });
    expect(identity.principalId).toMatch(/^[0-9a-f-]{36}$/);
    expect(identity.clientId).toMatch(/^[0-9a-f-]{36}$/);
    const again = await msi().userAssignedIdentities.createOrUpdate('rg-id', 'cluster-id', { location: 'westeurope', tags: { x: 'y' } });
    expect(again.principalId).toBe(identity.principalId);

    const scope = `/subscriptions/${sub}/resourceGroups/rg-id`;
    const reader = `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7`;
    const name = randomUUID();
    const ra = await authz().roleAssignments.create(scope, name, {
      roleDefinitionId: reader,
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal',
    });
    expect(ra).toMatchObject({ name, scope, principalId: identity.principalId, roleDefinitionId: reader });
    await expect(
      authz().roleAssignments.create(scope, randomUUID(), { roleDefinitionId: reader, principalId: identity.principalId! }),
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'RoleAssignmentExists',
    });
    await expect(
      authz().roleAssignments.create(scope, randomUUID(), { roleDefinitionId: reader, principalId: randomUUID() }),
    ).rejects.toMatchObject({
      statusCode: 400,
      code: 'PrincipalNotFound',
    });
    // A scope in a provider the twin does not serve (the blob container lives in Azurite).
    const container = `/subscriptions/${sub}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/hcsdev/blobServices/default/containers/c1`;
    const blobReader = `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1`;
    await expect(
      authz().roleAssignments.create(container, randomUUID(), { roleDefinitionId: blobReader, principalId: identity.principalId! }),
    ).resolves.toMatchObject({
      scope: container,
    });
    const found: string[] = [];
    for await (const a of authz().roleAssignments.listForScope(scope)) found.push(a.name!);
    expect(found).toContain(name);
    await authz().roleAssignments.delete(scope, name);
    await expect(authz().roleAssignments.get(scope, name)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('deleting a resource group deletes what is in it', async () => {
    await resources().resourceGroups.createOrUpdate('rg-gone', { location: 'westeurope' });
    await msi().userAssignedIdentities.createOrUpdate('rg-gone', 'id1', { location: 'westeurope' });
    await resources().resourceGroups.beginDeleteAndWait('rg-gone', { updateIntervalInMs: 100 });
    await resources().resourceGroups.createOrUpdate('rg-gone', { location: 'westeurope' });
    await expect(msi().userAssignedIdentities.get('rg-gone', 'id1')).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  });
});
