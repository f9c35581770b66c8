// The proto contract: buf lint passes (and catches a violation), the generated code is exactly
// what the protos produce today, and every RPC has a REST route derived from its annotation.
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { rpcRoutes } from '../../apps/api/src/contract.js';
import { repoRoot } from '../../scripts/toolchain.mjs';

const run = promisify(execFile);
const buf = join(repoRoot, 'node_modules', '.bin', 'buf');
const work = mkdtempSync(join(tmpdir(), 'hcs-proto-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

it('passes buf lint (STANDARD rules), and buf lint fails on a violation', async () => {
  await run(buf, ['lint', 'proto'], { cwd: repoRoot });
  // Same workspace, one rule broken: a request message not named after its RPC.
  const copy = join(work, 'ws');
  cpSync(join(repoRoot, 'proto'), join(copy, 'proto'), { recursive: true });
  cpSync(join(repoRoot, 'buf.yaml'), join(copy, 'buf.yaml'));
  cpSync(join(repoRoot, 'node_modules', '.hcs-proto-deps'), join(copy, 'node_modules', '.hcs-proto-deps'), { recursive: true });
  const f = join(copy, 'proto', 'hcs', 'consul', 'v1', 'operation.proto');
  writeFileSync(f, readFileSync(f, 'utf8').replaceAll('GetOperationRequest', 'FetchOp'));
  const failed = await run(buf, ['lint', 'proto'], { cwd: copy }).catch((e: { stdout: string }) => e);
  expect(failed.stdout).toMatch(/RPC request type "FetchOp" should be named "GetOperationRequest"/);
});

it('has generated code in gen/ that matches the protos', async () => {
  const out = join(work, 'gen');
  await run(buf, ['generate', '-o', out], { cwd: repoRoot });
  const fresh = files(join(out, 'gen'))
    .map((p) => relative(join(out, 'gen'), p))
    .sort();
  const committed = files(join(repoRoot, 'gen'))
    .map((p) => relative(join(repoRoot, 'gen'), p))
    .filter((p) => p.endsWith('_pb.ts'))
    .sort();
  expect(committed).toEqual(fresh);
  for (const p of fresh) expect(readFileSync(join(repoRoot, 'gen', p), 'utf8'), p).toBe(readFileSync(join(out, 'gen', p), 'utf8'));
});

it('maps every RPC to an ARM REST route from its google.api.http annotation', () => {
  const routes = rpcRoutes();
  const byName = Object.fromEntries(routes.map((r) => [r.method.name, `${r.verb.toUpperCase()} ${r.path}`]));
  expect(byName.CreateOrReplaceCluster).toBe(
    'PUT /subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/HCS.Consul/clusters/{cluster_name}',
  );
  expect(byName.ListClustersBySubscription).toBe('GET /subscriptions/{subscription_id}/providers/HCS.Consul/clusters');
  expect(byName.GetOperation).toBe(
    'GET /subscriptions/{subscription_id}/providers/HCS.Consul/locations/{location}/operationStatuses/{operation_id}',
  );
  expect(byName.PutSubscription).toBe('PUT /subscriptions/{subscription_id}');
  // Every HCS action has an RPC (see shared/reference/peers.md).
  for (const rpc of [
    'CreateSnapshot',
    'ListSnapshots',
    'GetSnapshot',
    'RenameSnapshot',
    'DeleteSnapshot',
    'RestoreSnapshot',
    'UpgradeCluster',
    'ListUpgradeVersions',
    'ListClientConfig',
    'CreateRootToken',
    'CreateFederationToken',
    'GetFederation',
    'GetBillingInfo',
    'GetBillingReport',
    'CancelOperation',
    'ListOperations',
  ]) {
    expect(byName[rpc], rpc).toMatch(/^(GET|POST) /);
  }
  expect(new Set(routes.map((r) => `${r.verb} ${r.path}`)).size).toBe(routes.length);
});
