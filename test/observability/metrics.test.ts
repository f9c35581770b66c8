// A real Prometheus scrapes the API's /metrics (HTTPS on the REST port with our CA and a reader
// operator token, as a production Prometheus would) and the worker's ops server (/metrics with
// the fleet's gauges and the Temporal SDK's metrics), after a cluster create ran as an operation
// (the stand-in workflows: the API and the store are real, no Terraform) and the store holds a
// certificate expiry, a snapshot time and an upgrade waiting for its window. Prometheus' HTTP API
// must then answer the request latency histogram by route template, operations started and ended
// by kind, a Temporal SDK metric of the worker's task queue, and each fleet gauge - and no label
// may carry the tenant's subscription id or cluster name.
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { startPrometheus, type PrometheusEndpoint, type PrometheusSample } from '../../devstack/services/prometheus.js';
import { Supervisor } from '../../devstack/supervisor.js';
import { httpCall } from '../../lib/http.js';
import { operationTarget, recordOperation } from '../../lib/operation-starter.js';
import { getCluster, mergeClusterStatus } from '../../store/clusters.js';
import { createCluster, useControlPlane, useScratchFolder, useTemporalSdkMetrics } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const dir = useScratchFolder('hcs-metrics-');
// This process exports the Temporal SDK's metrics, as a worker process does.
const sdkMetrics = useTemporalSdkMetrics();
const cp = useControlPlane(stack, () => ({ workerOps: { temporalMetricsAddress: sdkMetrics.address } }));
let services: Supervisor | undefined;
afterAll(async () => services?.stop());

const sub = randomUUID();
const name = `metered-${randomUUID().slice(0, 6)}`;
const id = `/subscriptions/${sub}/resourceGroups/rg-metrics/providers/HCS.Consul/clusters/${name}`;

/** Asks until every sample satisfies `ok` (and there is one), or fails with what Prometheus last said. */
async function eventually(
  prom: PrometheusEndpoint,
  expr: string,
  ok: (s: PrometheusSample) => boolean,
  /** How many series must be there (each job is scraped on its own first time). */
  series = 1,
): Promise<PrometheusSample[]> {
  const end = Date.now() + 90_000;
  let last: PrometheusSample[] = [];
  while (Date.now() < end) {
    last = await prom.query(expr);
    if (last.length >= series && last.every(ok)) return last;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`${expr}: ${JSON.stringify(last)}`);
}

it('scrapes request latency, operations, Temporal SDK metrics and the fleet gauges into a real Prometheus', async () => {
  // An operation: a create through the REST API as ARM, followed to its end.
  await cp.registerSubscription(sub);
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 1, network: { cidr: '10.73.0.0/16' } },
  });
  // What the workflows record later in a cluster's life: its certificates' expiry (2 h left), its
  // last snapshot (30 min ago) and an upgrade that waits for its maintenance window.
  const cluster = (await getCluster(cp.db, id.toLowerCase()))!;
  await mergeClusterStatus(cp.db, cluster.resourceKey, {
    earliestServerCertificateExpiry: new Date(Date.now() + 2 * 3600_000).toISOString(),
    lastSuccessfulSnapshotTime: new Date(Date.now() - 1800_000).toISOString(),
  });
  const upgrade = await recordOperation(cp.db, { target: operationTarget(cluster), kind: 'upgrade', correlationId: randomUUID() });
  expect(upgrade.operation.status).toBe('Scheduled');

  // The worker's own endpoints answer before Prometheus is asked.
  const ops = cp.workerOpsUrl!;
  expect((await httpCall(`${ops}/healthz`)).status).toBe(200);
  const ready = await httpCall(`${ops}/readyz`);
  expect(ready.status, ready.body).toBe(200);
  expect(JSON.parse(ready.body)).toEqual({
    ready: true,
    checks: { database: { status: 'ok' }, temporal: { status: 'ok' }, worker: { status: 'ok' } },
  });
  // The API's /metrics answers only an all-subscription principal.
  const metricsUrl = `${cp.api.restUrl}/metrics`;
  expect((await httpCall(metricsUrl, { ca: cp.caCertPem })).status).toBe(401);
  const scoped = await httpCall(metricsUrl, {
    ca: cp.caCertPem,
    headers: { authorization: `Bearer ${cp.scopedToken(cp.scopedSubscriptionIds[0]!)}` },
  });
  expect(scoped.status, scoped.body).toBe(403);

  writeFileSync(join(dir, 'api-ca.pem'), cp.caCertPem);
  writeFileSync(join(dir, 'reader-token'), cp.tokens.reader, { mode: 0o600 });
  services = new Supervisor({ stateDir: join(dir, 'supervisor') });
  const prom = await startPrometheus(services, {
    binary: stack.tools.prometheus,
    dataDir: dir,
    jobs: [
      {
        name: 'hcs-api',
        targets: [new URL(cp.api.restUrl).host],
        scheme: 'https',
        caFile: join(dir, 'api-ca.pem'),
        bearerTokenFile: join(dir, 'reader-token'),
      },
      { name: 'hcs-worker', targets: [new URL(ops).host] },
    ],
  });

  // Both targets up: Prometheus scrapes each job on its own first time, so one may come first.
  await eventually(prom, 'up{job=~"hcs-api|hcs-worker"}', (s) => s.value === 1, 2);
  expect((await prom.query('up{job=~"hcs-api|hcs-worker"}')).map((s) => s.metric.job).sort()).toEqual(['hcs-api', 'hcs-worker']);

  // Request latency by route template and status code: the PUT that created the cluster.
  const put = await eventually(prom, 'hcs_http_request_duration_seconds_count{job="hcs-api",method="PUT",code="201"}', (s) => s.value >= 1);
  expect(put.map((s) => s.metric.route)).toContain(
    '/subscriptions/:subscription_id/resourceGroups/:resource_group/providers/HCS.Consul/clusters/:cluster_name',
  );
  await eventually(prom, 'hcs_http_request_duration_seconds_bucket{job="hcs-api",method="PUT",code="201",le="+Inf"}', (s) => s.value >= 1);

  // Operations by kind: the create started and succeeded, the upgrade started (and waits).
  await eventually(prom, 'hcs_operations_started_total{job="hcs-api",kind="create"}', (s) => s.value >= 1);
  await eventually(prom, 'hcs_operations_started_total{job="hcs-api",kind="upgrade"}', (s) => s.value >= 1);
  await eventually(prom, 'hcs_operations_ended_total{job="hcs-worker",kind="create",status="Succeeded"}', (s) => s.value >= 1);
  await eventually(prom, 'hcs_operation_duration_seconds_count{job="hcs-worker",kind="create",status="Succeeded"}', (s) => s.value >= 1);

  // A Temporal SDK metric of this worker's task queue: its pollers (what the no-pollers alert reads).
  await eventually(
    prom,
    `temporal_num_pollers{job="hcs-worker",task_queue="${cp.taskQueue}",poller_type="workflow_task"}`,
    (s) => s.value >= 1,
  );

  // The fleet's gauges (other files' clusters share the run's store: bounds, not exact values).
  await eventually(prom, 'hcs_fleet_stats_up{job="hcs-worker"}', (s) => s.value === 1);
  await eventually(prom, 'hcs_fleet_clusters{job="hcs-worker",state="Succeeded"}', (s) => s.value >= 1);
  await eventually(prom, 'hcs_fleet_earliest_certificate_expiry_seconds{job="hcs-worker"}', (s) => s.value <= 2 * 3600);
  await eventually(prom, 'hcs_fleet_oldest_snapshot_age_seconds{job="hcs-worker"}', (s) => s.value >= 1800);
  await eventually(prom, 'hcs_fleet_snapshot_age_intervals_max{job="hcs-worker"}', (s) => s.value >= 0.5);
  await eventually(prom, 'hcs_fleet_scheduled_upgrades{job="hcs-worker"}', (s) => s.value >= 1);

  // No series of ours names the tenant.
  const ours = await prom.query('{job=~"hcs-api|hcs-worker"}');
  expect(ours.length).toBeGreaterThan(50);
  const labelValues = ours.flatMap((s) => Object.values(s.metric)).map((v) => v.toLowerCase());
  expect(labelValues.filter((v) => v.includes(sub) || v.includes(name))).toEqual([]);
});
