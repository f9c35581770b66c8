// An independent gRPC client (grpcurl, built from its Go module) against our gRPC server:
// reflection, health, the same handlers as REST, and status codes with details.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
const run = promisify(execFile);
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => {
  await cp?.close();
});

async function grpcurl(args: string[], token: string | null = cp.tokens.admin): Promise<{ code: number; stdout: string; stderr: string }> {
  const auth = token ? ['-H', `authorization: Bearer ${token}`] : [];
  try {
    const { stdout, stderr } = await run(stack.tools.grpcurl, ['-plaintext', ...auth, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

it('lists our services through server reflection, next to health and reflection', async () => {
  const { code, stdout } = await grpcurl([cp.api.grpcAddress, 'list'], null);
  expect(code).toBe(0);
  const services = stdout.trim().split('\n').sort();
  expect(services).toEqual(
    expect.arrayContaining([
      'grpc.health.v1.Health',
      'hcs.consul.v1.ClusterService',
      'hcs.consul.v1.NotificationService',
      'hcs.consul.v1.OperationService',
    ]),
  );
  const described = await grpcurl([cp.api.grpcAddress, 'describe', 'hcs.consul.v1.ClusterService.GetCluster'], null);
  expect(described.stdout).toContain('rpc GetCluster ( .hcs.consul.v1.GetClusterRequest ) returns ( .hcs.consul.v1.GetClusterResponse )');
  const health = await grpcurl([cp.api.grpcAddress, 'grpc.health.v1.Health/Check'], null);
  expect(health.stderr).toBe('');
  expect(JSON.parse(health.stdout)).toEqual({ status: 'SERVING' });
});

it('creates over gRPC, reads over gRPC and REST alike, and maps errors to status codes with details', async () => {
  const sub = randomUUID();
  const ref = { subscriptionId: sub, resourceGroup: 'rg-grpc', clusterName: 'grpc-cluster' };
  const create = await grpcurl([
    '-d',
    JSON.stringify({
      ...ref,
      cluster: {
        location: 'westeurope',
        properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 1, network: { cidr: '10.70.0.0/16' } },
      },
    }),
    cp.api.grpcAddress,
    'hcs.consul.v1.ClusterService/CreateOrReplaceCluster',
  ]);
  expect(create.stderr).toBe('');
  const created = JSON.parse(create.stdout);
  expect(created).toMatchObject({
    created: true,
    cluster: { name: 'grpc-cluster', properties: { provisioningState: 'Accepted', serverCount: 1 } },
    operation: { status: 'Accepted' },
  });

  let got: any;
  for (let i = 0; i < 100; i++) {
    const r = await grpcurl(['-d', JSON.stringify(ref), cp.api.grpcAddress, 'hcs.consul.v1.ClusterService/GetCluster']);
    got = JSON.parse(r.stdout);
    if (got.cluster.properties.provisioningState === 'Succeeded') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  expect(got.cluster).toMatchObject({
    id: `/subscriptions/${sub}/resourceGroups/rg-grpc/providers/HCS.Consul/clusters/grpc-cluster`,
    type: 'HCS.Consul/clusters',
    properties: { provisioningState: 'Succeeded', datacenter: 'dc1', currentConsulVersion: stack.tools.consulVersions.at(-1) },
  });
  const rest = await httpCall(`${cp.api.restUrl}${got.cluster.id}?api-version=2026-11-01`, {
    ca: cp.caCertPem,
    headers: { authorization: `Bearer ${cp.tokens.admin}` },
  });
  expect(JSON.parse(rest.body).etag).toBe(got.cluster.etag);

  const anonymous = await grpcurl(['-d', JSON.stringify(ref), cp.api.grpcAddress, 'hcs.consul.v1.ClusterService/GetCluster'], null);
  expect(anonymous.stderr).toContain('Code: Unauthenticated');
  const missing = await grpcurl([
    '-d',
    JSON.stringify({ ...ref, clusterName: 'nope' }),
    cp.api.grpcAddress,
    'hcs.consul.v1.ClusterService/GetCluster',
  ]);
  expect(missing.stderr).toContain('Code: NotFound');
  const invalid = await grpcurl([
    '-v',
    '-d',
    JSON.stringify({
      ...ref,
      clusterName: 'grpc-bad',
      cluster: { location: 'westeurope', properties: { consulVersion: '9.9.9', serverCount: 2, network: { cidr: '10.71.0.0/16' } } },
    }),
    cp.api.grpcAddress,
    'hcs.consul.v1.ClusterService/CreateOrReplaceCluster',
  ]);
  expect(invalid.stderr).toContain('Code: InvalidArgument');
  expect(invalid.stdout + invalid.stderr).toContain('x-ms-error-code: InvalidRequestContent');
  expect(invalid.stdout + invalid.stderr).toMatch(/error-body-json: .*properties\.serverCount/);
  // The rich error model: google.rpc.Status details that grpcurl decodes through reflection.
  expect(invalid.stderr).toContain('"@type": "type.googleapis.com/google.rpc.BadRequest"');
  expect(invalid.stderr).toMatch(/"field": "properties\.serverCount",\s+"description": "[^"]+",\s+"reason": "InvalidServerCount"/);
  expect(invalid.stderr).toContain('"@type": "type.googleapis.com/google.rpc.ErrorInfo"');
  expect(invalid.stderr).toContain('"domain": "hcs.consul"');
  expect(invalid.stderr).toContain('"reason": "InvalidRequestContent"');
  // Federation and billing over gRPC: the same handlers, the same refusals.
  const call = (method: string, body: unknown) =>
    grpcurl(['-d', JSON.stringify(body), cp.api.grpcAddress, `hcs.consul.v1.ClusterService/${method}`]);
  const token = JSON.parse((await call('CreateFederationToken', ref)).stdout) as { federationToken: string; expiresAt: string };
  expect(token.federationToken).toMatch(/^hcsbox:v1:/);
  expect(JSON.parse((await call('GetFederation', ref)).stdout)).toEqual({ primaryClusterId: got.cluster.id, datacenters: ['dc1'] });
  const forged = await call('CreateOrReplaceCluster', {
    ...ref,
    clusterName: 'grpc-secondary',
    cluster: {
      location: 'westeurope',
      properties: {
        consulVersion: stack.tools.consulVersions.at(-1),
        datacenter: 'dc2',
        network: { cidr: '10.72.0.0/16' },
        federationToken: token.federationToken.replace(/.{4}$/, 'AAAA'),
      },
    },
  });
  expect(forged.stderr).toContain('Code: InvalidArgument');
  expect(forged.stderr).toMatch(/"field": "properties\.federationToken",\s+"description": "[^"]+",\s+"reason": "InvalidFederationToken"/);
  const badMonth = await call('GetBillingReport', { ...ref, month: '2026-13' });
  expect(badMonth.stderr).toMatch(/"field": "month",\s+"description": ".+",\s+"reason": "InvalidMonth"/);
  const report = JSON.parse((await call('GetBillingReport', { ...ref, month: new Date().toISOString().slice(0, 7) })).stdout);
  expect(report).toMatchObject({ plan: 'DEVELOPMENT' });
  const reader = await grpcurl(
    ['-d', JSON.stringify(ref), cp.api.grpcAddress, 'hcs.consul.v1.ClusterService/DeleteCluster'],
    cp.tokens.reader,
  );
  expect(reader.stderr).toContain('Code: PermissionDenied');
});
