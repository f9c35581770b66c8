// Issue 13, item 5: gRPC callers read an operation's result with GetOperationResult, under the
// rules REST's Location URL follows (root-token-result.test.ts): a new root token is readable
// only by an operator of the cluster's subscription, once; readers and other subscriptions get
// NOT_FOUND exactly like an operation that does not exist, and consume nothing; the second read
// is NOT_FOUND, and REST's Location URL then finds nothing either. The API contract tests run the
// stand-in workflow, so the test writes the sealed result exactly as the worker's rotation does.
import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { rootTokenResultName, sealContext } from '../../contract/secret-names.js';
import { ClusterService } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { OperationService } from '../../gen/hcs/consul/v1/operation_pb.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { getSecret, putSecret } from '../../store/secrets.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { grpc } from './grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
let cp: ControlPlane;
let sealer: SecretBox;
const sub = randomUUID();
const cluster = { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'vault-over-grpc' };
const path = clusterPath(sub, cluster.resourceGroup, cluster.clusterName);
const key = path.toLowerCase();
const location = 'westeurope';

beforeAll(async () => {
  cp = await startControlPlane(stack);
  sealer = new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys)));
  await cp.registerSubscription(sub);
  const put = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.65.0.0/16') });
  expect(put.status).toBe(201);
  await waitForState(cp, path, ['Succeeded']);
});
afterAll(async () => {
  await cp?.close();
});

/** Starts createRootToken over gRPC, waits (on its status, not its result) until it ended, and stores the sealed result as the worker does. */
async function rotatedToken(operator: string): Promise<{ operationId: string; secretId: string }> {
  const started = await grpc(cp, ClusterService, 'CreateRootToken', cluster, operator);
  expect(started.code, started.details).toBe(status.OK);
  const operationId = String(started.response.operation.name);
  const req = { subscriptionId: sub, location, operationId };
  for (let end = Date.now() + 30_000; ;) {
    const op = await grpc(cp, OperationService, 'GetOperation', req, operator);
    expect(op.code, op.details).toBe(status.OK);
    if (op.response.operation.status === 'Succeeded') break;
    expect(Date.now()).toBeLessThan(end);
    await new Promise((res) => setTimeout(res, 100));
  }
  const secretId = randomUUID();
  const name = rootTokenResultName(operationId);
  await putSecret(cp.db, key, name, sealer.seal(JSON.stringify({ accessorId: randomUUID(), secretId }), sealContext(key, name)));
  return { operationId, secretId };
}

describe('GetOperationResult', () => {
  it('shows a new root token once, to an operator of the subscription; NOT_FOUND for everyone else and afterwards', async () => {
    const operator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub] });
    const { operationId, secretId } = await rotatedToken(operator);
    const name = rootTokenResultName(operationId);
    const req = { subscriptionId: sub, location, operationId };

    // Readers of the subscription, the all-subscription reader, other subscriptions' operators:
    // NOT_FOUND, and the answer is the one an operation id that never existed gets.
    const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [sub] });
    const otherOperator = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [randomUUID()] });
    for (const token of [reader, cp.tokens.reader, otherOperator, cp.scopedToken(cp.scopedSubscriptionIds[0]!)]) {
      const r = await grpc(cp, OperationService, 'GetOperationResult', req, token);
      expect(r.code, r.details).toBe(status.NOT_FOUND);
      expect(JSON.stringify(r)).not.toContain(secretId);
    }
    const ghost = await grpc(cp, OperationService, 'GetOperationResult', { ...req, operationId: randomUUID() }, otherOperator);
    expect(ghost.code).toBe(status.NOT_FOUND);
    expect((await grpc(cp, OperationService, 'GetOperationResult', req, null)).code).toBe(status.UNAUTHENTICATED);
    expect(await getSecret(cp.db, key, name)).toBeDefined();

    // The operator reads it once, with the operation that produced it.
    const first = await grpc(cp, OperationService, 'GetOperationResult', req, operator);
    expect(first.code, first.details).toBe(status.OK);
    expect(first.response.rootToken.secretId).toBe(secretId);
    expect(first.response.operation).toMatchObject({ name: operationId, status: 'Succeeded', properties: { kind: 'token' } });
    expect(first.response.cluster).toBeUndefined();
    expect(await getSecret(cp.db, key, name)).toBeUndefined();

    // Then it is gone, over gRPC and over REST alike.
    const second = await grpc(cp, OperationService, 'GetOperationResult', req, operator);
    expect(second.code).toBe(status.NOT_FOUND);
    expect(second.details).toMatch(/shown once/);
    expect(JSON.stringify(second)).not.toContain(secretId);
    const viaRest = await rest(
      cp,
      'GET',
      `/subscriptions/${sub}/providers/HCS.Consul/locations/${location}/operationResults/${operationId}?${V}`,
      {
        token: operator,
      },
    );
    expect(viaRest.status).toBe(404);
    expect(JSON.stringify(viaRest.json)).not.toContain(secretId);
  });

  it('answers what REST answers for other operations: the cluster afterwards', async () => {
    const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [sub] });
    const listed = await grpc(cp, OperationService, 'ListOperations', cluster, reader);
    const create = (listed.response.value as Array<{ name: string; properties: { kind: string } }>).find(
      (o) => o.properties.kind === 'create',
    )!;
    const r = await grpc(cp, OperationService, 'GetOperationResult', { subscriptionId: sub, location, operationId: create.name }, reader);
    expect(r.code, r.details).toBe(status.OK);
    expect(r.response.operation.status).toBe('Succeeded');
    expect(String(r.response.cluster.id).toLowerCase()).toBe(key);
    const viaRest = await rest(
      cp,
      'GET',
      `/subscriptions/${sub}/providers/HCS.Consul/locations/${location}/operationResults/${create.name}?${V}`,
      {
        token: reader,
      },
    );
    expect(viaRest.status).toBe(200);
    expect(viaRest.headers.etag).toBe(r.response.cluster.etag);
    expect(viaRest.json.id).toBe(r.response.cluster.id);
  });
});
