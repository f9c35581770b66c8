// One trace from the API request through the workflow to the Terraform activity, read back from
// a real Jaeger. The API runs in this process as hcs-api (tracing starts here before any of its
// modules load, as apps/control-plane/src/api-main.ts does); the worker is its real process
// entry (worker-main.ts) as hcs-worker, sending to the same Jaeger. A cluster is created through
// the REST API; the trace of its PUT must hold the request's HTTP span, its pg spans, the
// StartWorkflow span as the request span's child, the workflow's spans and the RunActivity span
// of applyInfrastructure (terraform apply), all linked by parent references. No span may carry
// a bearer token or an unredacted query value.
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { startJaeger } from '../../devstack/services/jaeger.js';
import { Supervisor } from '../../devstack/supervisor.js';
import { startTracing } from '../../lib/tracing.js';

const stack = inject('stack');
const dir = mkdtempSync(join(tmpdir(), 'hcs-traces-'));
const services = new Supervisor({ stateDir: join(dir, 'supervisor') });
const jaeger = await startJaeger(services, { binary: stack.tools.jaeger, dataDir: dir });
const tracing = startTracing('hcs-api', { endpoint: jaeger.otlpGrpcEndpoint });
afterAll(async () => {
  await tracing?.shutdown();
  await services.stop();
});
// Only now the modules the instrumentations patch (pg, the HTTP server, the Temporal client).
const { createCluster, useControlPlane } = await import('../support/control-plane-fixture.js');
const { API_VERSION, lifecycleConfig } = await import('../support/lifecycle.js');
const { WorkerProcess } = await import('../support/worker-process.js');
const { httpCall } = await import('../../lib/http.js');

const config = lifecycleConfig(stack);
const cp = useControlPlane(stack, () => ({ externalWorker: true, lifecycle: config }), {
  requirePostgres: 'the trace must show pg spans: the store must be PostgreSQL',
});
let worker: InstanceType<typeof WorkerProcess> | undefined;
afterAll(() => worker?.stop());

interface JaegerSpan {
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  startTime: number;
  duration: number;
  tags: { key: string; value: unknown }[];
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string; tags?: { key: string; value: unknown }[] }>;
}

const tag = (s: JaegerSpan, key: string) => s.tags.find((t) => t.key === key)?.value;

/** The service's traces in Jaeger (newest first), those with an `operation` span only when given. */
async function tracesOf(service: string, operation?: string): Promise<JaegerTrace[]> {
  const query = new URLSearchParams({ service, lookback: '1h', limit: '1000', ...(operation ? { operation } : {}) });
  const res = await httpCall(`${jaeger.queryUrl}/api/traces?${query}`);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { data: JaegerTrace[] }).data;
}

it('follows one create from the API request through the workflow to terraform apply in one trace', async () => {
  // The worker process traces as hcs-worker to the same Jaeger (its environment is this process's).
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = jaeger.otlpGrpcEndpoint;
  worker = new WorkerProcess({ stack, cp, config, logName: 'traces-worker.log' });
  worker.start();
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const name = `traced-${randomUUID().slice(0, 6)}`;
  const id = `/subscriptions/${sub}/resourceGroups/rg-traces/providers/HCS.Consul/clusters/${name}`;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 1, network: { cidr: '10.72.0.0/16' } },
  });
  // A read with a known operator token: it must not show up in any span.
  const token = cp.tokens.reader;
  const read = await httpCall(`${cp.api.restUrl}${id}?api-version=${API_VERSION}`, {
    ca: cp.caCertPem,
    headers: { authorization: `Bearer ${token}` },
  });
  expect(read.status, read.body).toBe(200);
  await tracing!.spanProcessor.forceFlush();

  // The worker exports each second; the workflow's spans end with the workflow, and each span
  // reaches Jaeger when its process exports it: wait until the trace holds every one the test reads.
  const expected = [
    'StartWorkflow:createCluster',
    'RunWorkflow:createCluster',
    'StartActivity:applyInfrastructure',
    'RunActivity:applyInfrastructure',
  ];
  let trace: JaegerTrace | undefined;
  let put: JaegerSpan | undefined;
  let seen: string[] = [];
  const deadline = Date.now() + 90_000;
  for (;;) {
    for (const t of await tracesOf('hcs-api', 'PUT')) {
      const p = t.spans.find(
        (s) => tag(s, 'span.kind') === 'server' && tag(s, 'http.method') === 'PUT' && String(tag(s, 'http.target')).includes(name),
      );
      if (!p) continue;
      seen = expected.filter((n) => t.spans.some((s) => s.operationName === n));
      if (seen.length === expected.length) [trace, put] = [t, p];
    }
    if (trace || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  expect(
    trace,
    `no trace in Jaeger holds the PUT of ${name} and ${expected.join(', ')} (the PUT's trace has ${seen.join(', ') || 'none of them'})`,
  ).toBeDefined();
  const spans = trace!.spans;
  const byId = new Map(spans.map((s) => [s.spanID, s]));
  const service = (s: JaegerSpan) => trace!.processes[s.processID]?.serviceName;
  const parent = (s: JaegerSpan) => byId.get(s.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '');
  const named = (n: string) => spans.filter((s) => s.operationName === n);

  // The request: an HTTP server span of hcs-api (below the test client's own span, as this
  // process's https client is instrumented too), with the store's pg spans below it.
  expect(service(put!)).toBe('hcs-api');
  expect(spans.some((s) => s.operationName.startsWith('pg.') && parent(s) === put && service(s) === 'hcs-api')).toBe(true);
  // The workflow start is the request span's child; the workflow and its activities follow in hcs-worker.
  const [start] = named('StartWorkflow:createCluster');
  expect(start && parent(start)).toBe(put);
  const [run] = named('RunWorkflow:createCluster');
  expect(run && service(run)).toBe('hcs-worker');
  expect(parent(run!)).toBe(start);
  const [apply] = named('RunActivity:applyInfrastructure');
  expect(service(apply!)).toBe('hcs-worker');
  // From terraform apply up to the request, parent by parent.
  const chain: string[] = [];
  let up: JaegerSpan | undefined = apply;
  while (up && up !== put) {
    chain.push(up.operationName);
    up = parent(up);
  }
  expect(up, `the chain from terraform apply ends at ${chain.at(-1)}, not at the PUT`).toBe(put);
  expect(chain).toEqual([
    'RunActivity:applyInfrastructure',
    'StartActivity:applyInfrastructure',
    'RunWorkflow:createCluster',
    'StartWorkflow:createCluster',
  ]);

  // No secret in any span of the run: bearer tokens, JWTs, unredacted query values.
  const texts = (await tracesOf('hcs-api'))
    .concat(await tracesOf('hcs-worker'))
    .flatMap((t) => t.spans.flatMap((s) => s.tags.map((g) => `${g.key}=${String(g.value)}`)));
  expect(texts.filter((t) => t.includes(token) || /bearer /i.test(t) || /eyJ[\w-]+\.eyJ[\w-]+\./.test(t))).toEqual([]);
  expect(texts.filter((t) => /[?&](sig|code|token|key)=(?!REDACTED)/i.test(t))).toEqual([]);

  const startUs = Math.min(...spans.map((s) => s.startTime));
  const endUs = Math.max(...spans.map((s) => s.startTime + s.duration));
  console.log(
    `[traces] trace ${trace!.traceID}: ${spans.length} spans (${new Set(spans.map(service)).size} services, ` +
      `${named('RunActivity:applyInfrastructure').length} terraform apply), ${((endUs - startUs) / 1e6).toFixed(1)} s; ` +
      `${[put!.operationName, ...chain.reverse()].join(' > ')}; ${texts.length} span attributes checked for secrets`,
  );
}, 600_000);
