// The official Azure SDK's generic resources client drives our REST API exactly as it drives
// any resource provider: create (PUT + Azure-AsyncOperation polling), read, delete (Location
// polling). The operations run as Temporal workflows (the stand-in workflow for now).
import { ResourceManagementClient } from '@azure/arm-resources';
import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { getOperation, listOperations } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
const API_VERSION = '2026-11-01';
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => {
  await cp?.close();
});

function sdk(subscriptionId: string): ResourceManagementClient {
  const credential: TokenCredential = {
    getToken: async (): Promise<AccessToken> => ({ token: await cp.mintJwt('arm'), expiresOnTimestamp: Date.now() + 600_000 }),
  };
  return new ResourceManagementClient(credential, subscriptionId, {
    endpoint: cp.api.restUrl,
    credentialScopes: ['https://management.hcs.test/.default'],
    tlsOptions: { ca: cp.caCertPem },
    retryOptions: { maxRetries: 0 },
  });
}

it('creates, polls, reads and deletes a cluster through @azure/arm-resources', async () => {
  const subscriptionId = randomUUID();
  await cp.registerSubscription(subscriptionId);
  const id = `/subscriptions/${subscriptionId}/resourceGroups/rg-sdk/providers/HCS.Consul/clusters/sdk-cluster`;
  const client = sdk(subscriptionId);

  const poller = await client.resources.beginCreateOrUpdateById(
    id,
    API_VERSION,
    {
      location: 'westeurope',
      tags: { env: 'test' },
      properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: '10.40.0.0/16' } },
    },
    { updateIntervalInMs: 200 },
  );
  const created = await poller.pollUntilDone();
  expect(created.id).toBe(id);
  expect(created.type).toBe('HCS.Consul/clusters');
  expect(created.properties).toMatchObject({
    provisioningState: 'Succeeded',
    serverCount: 3,
    datacenter: 'dc1',
    network: { cidr: '10.40.0.0/16' },
  });

  const read = await client.resources.getById(id, API_VERSION);
  expect(read.tags).toEqual({ env: 'test' });
  expect(read.location).toBe('westeurope');
  expect((read.properties as { currentConsulVersion: string }).currentConsulVersion).toBe(stack.tools.consulVersions.at(-1));

  // The create ran as a workflow whose operation record went Accepted -> Running -> Succeeded.
  const key = id.toLowerCase();
  const [createOp] = await listOperations(cp.db, key);
  expect(createOp).toMatchObject({ kind: 'create', status: 'Succeeded', percentComplete: 100 });
  expect(createOp!.workflowId).toBe(`cluster${key}/create/${createOp!.operationId}`);

  const deleter = await client.resources.beginDeleteById(id, API_VERSION, { updateIntervalInMs: 200 });
  await deleter.pollUntilDone();
  await expect(client.resources.getById(id, API_VERSION)).rejects.toMatchObject({ statusCode: 404, code: 'ResourceNotFound' });
  const ops = await listOperations(cp.db, key);
  expect(ops.map((o) => [o.kind, o.status])).toEqual([
    ['delete', 'Succeeded'],
    ['create', 'Succeeded'],
  ]);
  expect((await getOperation(cp.db, ops[0]!.operationId))?.correlationId).toBeTruthy();
});
