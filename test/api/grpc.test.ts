// An independent gRPC client (grpcurl, built from its Go module) against our gRPC server over
// TLS: reflection, health, the same handlers as REST, status codes with details, ARM's client
// certificate, and no plaintext.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
const run = promisify(execFile);
let cp: ControlPlane;
const files = mkdtempSync(join(tmpdir(), 'hcs-grpcurl-'));
const file = (name: string, text: string) => {
  writeFileSync(join(files, name), text, { mode: 0o600 });
  return join(files, name);
};
let cacert: string;
beforeAll(async () => {
  cp = await startControlPlane(stack);
  cacert = file('ca.pem', cp.caCertPem);
});
afterAll(async () => {
  await cp?.close();
});

async function grpcurl(
  args: string[],
  token: string | null = cp.tokens.admin,
  transport: string[] = ['-cacert', cacert],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const auth = token ? ['-H', `authorization: Bearer ${token}`] : [];
  try {
    const { stdout, stderr } = await run(stack.tools.grpcurl, [...transport, ...auth, ...args], { timeout: 30_000 });
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
  await cp.registerSubscription(sub);
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

it('serves TLS only: a plaintext client gets no answer, the API CA verifies the server', async () => {
  const plaintext = await grpcurl(['-max-time', '3', cp.api.grpcAddress, 'list'], null, ['-plaintext']);
  expect(plaintext.code).not.toBe(0);
  const untrusted = await grpcurl(['-max-time', '5', cp.api.grpcAddress, 'list'], null, []);
  expect(untrusted.code).not.toBe(0);
  expect(untrusted.stderr).toMatch(/certificate/i);
  expect((await grpcurl([cp.api.grpcAddress, 'list'], null)).code).toBe(0);
});

it("trusts ARM's client certificate by thumbprint, as REST does, and refuses a stranger's", async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  await cp.registerSubscription(sub);
  const ref = { subscriptionId: sub, resourceGroup: 'rg-mtls', clusterName: 'grpc-mtls' };
  const asCert = (c: { cert: string; key: string }, name: string) => [
    '-cacert',
    cacert,
    '-cert',
    file(`${name}.pem`, c.cert),
    '-key',
    file(`${name}.key`, c.key),
  ];
  const create = await grpcurl(
    [
      '-d',
      JSON.stringify({
        ...ref,
        cluster: {
          location: 'westeurope',
          properties: { consulVersion: stack.tools.consulVersions.at(-1), network: { cidr: '10.73.0.0/16' } },
        },
      }),
      cp.api.grpcAddress,
      'hcs.consul.v1.ClusterService/CreateOrReplaceCluster',
    ],
    null,
    asCert(cp.clientCerts.arm, 'arm'),
  );
  expect(create.stderr).toBe('');
  expect(JSON.parse(create.stdout).cluster.systemData.createdBy).toMatch(/^cert:[0-9a-f]{40}$/);
  const stranger = await grpcurl(
    ['-d', JSON.stringify(ref), cp.api.grpcAddress, 'hcs.consul.v1.ClusterService/GetCluster'],
    null,
    asCert(cp.clientCerts.stranger, 'stranger'),
  );
  expect(stranger.stderr).toContain('Code: PermissionDenied');
  expect(stranger.stderr).toContain('ClientCertificateNotTrusted');
  // Without a certificate the same call needs a token.
  const anonymous = await grpcurl(['-d', JSON.stringify(ref), cp.api.grpcAddress, 'hcs.consul.v1.ClusterService/GetCluster'], null);
  expect(anonymous.stderr).toContain('Code: Unauthenticated');
});

it('refuses to start on an address beyond loopback without TLS, naming the settings', async () => {
  const env = {
    PATH: process.env.PATH,
    HCS_TEMPORAL_ADDRESS: stack.temporal.address,
    HCS_DATABASE: JSON.stringify(stack.database),
    HCS_AUTH: JSON.stringify({}),
    HCS_CONSUL_CATALOGUE: JSON.stringify([]),
    HCS_PAYLOAD_KEYS_FILE: cp.payloadKeysFile,
    HCS_API_HOST: '0.0.0.0',
  };
  const main = join(repoRoot, 'apps/control-plane/src/api-main.ts');
  const refused = await run(process.execPath, ['--import', 'tsx', main], { env, cwd: repoRoot, timeout: 60_000 }).then(
    () => ({ code: 0, killed: false, stderr: '' }),
    (err: { code: number | null; killed?: boolean; stderr: string }) => err,
  );
  // It stopped by itself (not at the time-out) with an error naming what to set.
  expect(refused.killed).toBeFalsy();
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain('HCS_API_HOST');
  expect(refused.stderr).toContain('HCS_API_TLS_CERT_FILE');
});
