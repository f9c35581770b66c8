// docs/runbooks/failed-create.md on the real stack. A 1-server create fails for real: as soon as
// the twin has created the server's VM (mid-apply, before the server's files are published), the
// VM is powered off through the cloud (the twin stops host-manager), so Consul never starts, the
// health gate runs out of time three times and the operation ends Failed with ClusterNotHealthy.
// (Powering it off once the operation reached publish-configuration raced the create: a new
// server checks Blob every 250 ms and can be healthy within a second of its files.) The runbook's
// diagnosis steps run as written (the API, the Temporal CLI by correlation id and by cluster, the
// history, its payloads decrypted through our /codec); then the fault is removed (the VM powered
// on) and the runbook's retry (a PUT of the cluster as GET returns it) must end Succeeded; its
// delete step cleans up. The worker's health timeout is 15 s here (one gate attempt), so the
// failure comes within a minute of the power-off.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { getOperation } from '../../store/operations.js';
import { putResultUrl, useControlPlane } from '../support/control-plane-fixture.js';
import { arm, clusterNames, followLocation, lifecycleConfig, twinCall } from '../support/lifecycle.js';
import { runbookEnvironment, REPO_ROOT } from './environment.js';
import { openRunbook } from './runbook.js';

const stack = inject('stack');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack, { healthTimeoutSeconds: 15 }) }), {
  requirePostgres: 'the runbooks use psql and the Terraform state on PostgreSQL',
});
const COMPUTE_API = 'api-version=2024-07-01';

/** The cluster's scale sets in the twin (the infrastructure resource group the worker derives); none before it exists. */
async function scaleSets(resourceKey: string): Promise<string[]> {
  const rg = (await clusterNames(cp.db, resourceKey)).infraResourceGroup;
  const res = await twinCall(
    stack,
    'GET',
    `/subscriptions/${stack.cloud.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachineScaleSets?${COMPUTE_API}`,
  );
  if (res.status === 404 && JSON.parse(res.body).error?.code === 'ResourceGroupNotFound') return [];
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { value: Array<{ id: string }> }).value.map((v) => v.id);
}

/** A scale set's instances with their power state (PowerState/...). */
async function instances(vmss: string): Promise<Array<{ instanceId: string; power?: string }>> {
  const res = await twinCall(stack, 'GET', `${vmss}/virtualMachines?$expand=instanceView&${COMPUTE_API}`);
  expect(res.status, res.body).toBe(200);
  type Vm = { instanceId: string; properties: { instanceView?: { statuses?: Array<{ code: string }> } } };
  return (JSON.parse(res.body) as { value: Vm[] }).value.map((v) => ({
    instanceId: v.instanceId,
    power: v.properties.instanceView?.statuses?.find((st) => st.code.startsWith('PowerState/'))?.code,
  }));
}

it('diagnoses a create failed at the health gate through the API and Temporal, and the retry PUT succeeds', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-runbook/providers/HCS.Consul/clusters/failed-${randomUUID().slice(0, 6)}`;
  const key = id.toLowerCase();
  const correlationId = randomUUID();
  const put = await httpCall(`${cp.api.restUrl}${id}?api-version=2026-11-01`, {
    method: 'PUT',
    ca: cp.caCertPem,
    headers: { authorization: `Bearer ${await cp.mintJwt('arm')}`, 'x-ms-correlation-request-id': correlationId },
    body: JSON.stringify({
      location: 'westeurope',
      properties: { consulVersion: stack.tools.consulVersions.at(-1)!, serverCount: 1, network: { cidr: '10.91.0.0/16' } },
    }),
  });
  expect(put.status, put.body).toBe(201);
  const operationId = String(put.headers['azure-asyncoperation']).split('/operationStatuses/')[1]!.split('?')[0]!;

  // The fault: the server's VM powered off as soon as the twin has created it, before its files
  // are published (the operation is still building the infrastructure).
  let vmss: string | undefined;
  let created: Array<{ instanceId: string }> = [];
  for (let deadline = Date.now() + 300_000; ;) {
    const op = await getOperation(cp.db, operationId);
    expect(['Accepted', 'Running'], JSON.stringify(op)).toContain(op!.status);
    [vmss] = await scaleSets(key);
    created = vmss ? await instances(vmss) : [];
    if (created.length > 0) break;
    if (Date.now() > deadline) throw new Error(`the create's server VM never appeared (step ${op!.step})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const off = await twinCall(stack, 'POST', `${vmss}/poweroff?${COMPUTE_API}`, { instanceIds: created.map((i) => i.instanceId) });
  expect([200, 202], off.body).toContain(off.status);
  for (let deadline = Date.now() + 60_000; ; await new Promise((r) => setTimeout(r, 100))) {
    if ((await instances(vmss!)).every((i) => i.power === 'PowerState/stopped')) break;
    if (Date.now() > deadline) throw new Error(`${vmss} never stopped after the power-off`);
  }
  const atPowerOff = await getOperation(cp.db, operationId);
  expect(['Accepted', 'Running'], JSON.stringify(atPowerOff)).toContain(atPowerOff!.status);
  // Steps only a create whose health gate passed reaches (the VM was off too late for the fault).
  expect(['acls', 'client-config', 'schedules'], 'the VM must be off before the health gate passes').not.toContain(atPowerOff!.step);
  const failed = await followLocation(cp, putResultUrl(put), 300_000);
  expect(failed.status, failed.body).toBe(400);
  expect(JSON.parse(failed.body)).toMatchObject({ error: { code: 'ClusterNotHealthy' } });

  const { env } = runbookEnvironment(stack, cp, id);
  const book = openRunbook('failed-create.md', { ...env, CORRELATION_ID: correlationId }, REPO_ROOT);

  const state = await book.run('cluster-state');
  expect(JSON.parse(state.stdout)).toMatchObject({ provisioningState: 'Failed', serverCount: 1 });
  const failedOp = JSON.parse((await book.run('failed-operation')).stdout) as Record<string, unknown>;
  expect(failedOp).toMatchObject({
    name: operationId,
    kind: 'create',
    step: 'health-gate',
    error: { code: 'ClusterNotHealthy', message: expect.stringMatching(/^health-gate failed: the cluster is not healthy: /) as string },
  });

  // Both queries find the create's workflow: by the request's correlation id and by the cluster.
  const workflowId = `cluster/${key.slice(1)}/create/${operationId}`;
  const found = await book.run('find-workflows');
  const lines = found.stdout.split('\n').filter((l) => l.includes(workflowId));
  expect(lines, found.stdout).toHaveLength(2);
  for (const l of lines) expect(l).toMatch(/Failed/);

  // The history: the gate's activity failed with its type, the workflow failed with it.
  const shown = await book.run('show-failure');
  expect(shown.stdout).toContain(workflowId);
  const failures = shown.stdout
    .split('\n')
    .filter((l) => l.startsWith('{"eventId"'))
    .map((l) => JSON.parse(l) as { failed: string; message: string; type: string | null; cause: { type: string } | null });
  const gate = failures.find((f) => f.failed === 'activity');
  expect(gate, shown.stdout).toMatchObject({
    type: 'ClusterNotHealthy',
    message: expect.stringMatching(/^the cluster is not healthy: /) as string,
  });
  const end = failures.find((f) => f.failed === 'workflow');
  expect(end?.cause, shown.stdout).toMatchObject({ type: 'ClusterNotHealthy' });
  // Through /codec the CLI wrote the history decrypted: no payload in it is still encrypted, and the
  // input (encrypted in Temporal) reads as the operation it started.
  const encodings = new Set<string>();
  const collect = (node: unknown): void => {
    if (!node || typeof node !== 'object') return;
    const o = node as { metadata?: { encoding?: string }; data?: unknown };
    if (o.metadata?.encoding !== undefined && 'data' in o) encodings.add(Buffer.from(o.metadata.encoding, 'base64').toString());
    else for (const v of Object.values(node)) collect(v);
  };
  collect(JSON.parse(readFileSync(join(env.WORK!, 'history.json'), 'utf8')));
  expect([...encodings]).toContain('json/plain');
  expect([...encodings]).not.toContain('binary/encrypted');
  const input = JSON.parse((await book.run('workflow-input')).stdout) as { workflowType: string; input: unknown[] };
  expect(input).toMatchObject({ workflowType: 'createCluster' });
  expect(input.input).toEqual([expect.objectContaining({ operationId, resourceKey: key, kind: 'create', correlationId })]);

  // The fault removed: the VM powered on again. The runbook's retry converges the cluster.
  const on = await twinCall(stack, 'POST', `${vmss}/start?${COMPUTE_API}`, {});
  expect([200, 202], on.body).toContain(on.status);
  const retry = await book.run('retry');
  expect(JSON.parse(retry.stdout)).toEqual({ provisioningState: 'Updating' });
  const followed = await book.run('follow-retry');
  expect(JSON.parse(followed.stdout)).toMatchObject({ status: 'Succeeded' });
  const view = JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { provisioningState: string } };
  expect(view.properties.provisioningState).toBe('Succeeded');

  const deleted = await book.run('delete');
  expect(deleted.stdout).toContain('delete: Succeeded');
  expect((await arm(cp, 'GET', id)).status).toBe(404);
  expect(book.unrun()).toEqual([]);
}, 600_000);
