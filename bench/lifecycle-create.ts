// Benchmark (`npm run bench:create`): end-to-end create time of a 3-server cluster on the local
// twin (REST PUT until the operation is Succeeded), and the control plane's own overhead: the
// total minus the time spent inside activities (from each activity's Started to its Completed
// event in the workflow history). Prints a per-activity breakdown; results go to
// bench/results/lifecycle-create.txt.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackForScript } from '../devstack/script-stack.js';
import { repoRoot } from '../scripts/toolchain.mjs';
import { getOperation, listOperations } from '../store/operations.js';
import { startControlPlane } from '../test/api/harness.js';
import { arm, followLocation, lifecycleConfig } from '../test/support/lifecycle.js';

const CLUSTERS = Number(process.env.HCS_BENCH_CLUSTERS ?? 3);

const stack = await stackForScript({ name: 'bench', scriptUrl: import.meta.url });
const cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
const connection = await Connection.connect({ address: stack.temporal.address });
const temporal = new Client({ connection, namespace: stack.temporal.namespace });
const lines: string[] = [];
const out = (l: string) => {
  console.log(l);
  lines.push(l);
};

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
const results: Array<{ total: number; inside: number; perActivity: Map<string, number> }> = [];

out(`# lifecycle create benchmark: ${CLUSTERS} clusters of 3 servers, one after the other, on the local twin`);
out(`# command: npm run bench:create    date: ${new Date().toISOString()}`);
try {
  for (let i = 1; i <= CLUSTERS; i++) {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const id = `/subscriptions/${sub}/resourceGroups/rg-bench/providers/HCS.Consul/clusters/bench-${i}`;
    const started = performance.now();
    const put = await arm(cp, 'PUT', id, {
      location: 'westeurope',
      properties: { consulVersion: stack.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: `10.${80 + i}.0.0/16` } },
    });
    if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body}`);
    const statusUrl = String(put.headers['azure-asyncoperation']);
    for (;;) {
      const st = JSON.parse((await arm(cp, 'GET', statusUrl)).body) as { status: string };
      if (st.status === 'Succeeded') break;
      if (st.status === 'Failed' || st.status === 'Canceled') throw new Error(`create ${st.status}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const total = performance.now() - started;
    const [op] = await listOperations(cp.db, id.toLowerCase());
    const history = await temporal.workflow.getHandle(op!.workflowId).fetchHistory();
    const startedAt = new Map<number, { type: string; at: number }>();
    const scheduled = new Map<number, string>();
    const perActivity = new Map<string, number>();
    let inside = 0;
    for (const e of history.events ?? []) {
      if (e.activityTaskScheduledEventAttributes)
        scheduled.set(Number(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      if (e.activityTaskStartedEventAttributes)
        startedAt.set(Number(e.eventId), {
          type: scheduled.get(Number(e.activityTaskStartedEventAttributes.scheduledEventId)) ?? '?',
          at: ms(e.eventTime),
        });
      if (e.activityTaskCompletedEventAttributes) {
        const s = startedAt.get(Number(e.activityTaskCompletedEventAttributes.startedEventId))!;
        const d = ms(e.eventTime) - s.at;
        inside += d;
        perActivity.set(s.type, (perActivity.get(s.type) ?? 0) + d);
      }
    }
    results.push({ total, inside, perActivity });
    out(
      `cluster ${i}: total ${(total / 1000).toFixed(1)} s, inside activities ${(inside / 1000).toFixed(1)} s, control-plane overhead ${((total - inside) / 1000).toFixed(2)} s (${((100 * (total - inside)) / total).toFixed(1)}%)`,
    );
    // Clean up before the next one (not measured).
    const del = await arm(cp, 'DELETE', id);
    await followLocation(cp, String(del.headers.location));
    if ((await getOperation(cp.db, op!.operationId))?.status !== 'Succeeded') throw new Error('create operation not Succeeded');
  }
  const avg = (f: (r: (typeof results)[number]) => number) => results.reduce((a, r) => a + f(r), 0) / results.length;
  out('');
  out(`mean total           ${(avg((r) => r.total) / 1000).toFixed(1)} s`);
  out(`mean inside          ${(avg((r) => r.inside) / 1000).toFixed(1)} s`);
  out(`mean overhead        ${(avg((r) => r.total - r.inside) / 1000).toFixed(2)} s`);
  out('mean time per activity type (s):');
  const types = [...new Set(results.flatMap((r) => [...r.perActivity.keys()]))];
  for (const t of types.sort((a, b) => avg((r) => r.perActivity.get(b) ?? 0) - avg((r) => r.perActivity.get(a) ?? 0)))
    out(`  ${t.padEnd(24)} ${(avg((r) => r.perActivity.get(t) ?? 0) / 1000).toFixed(2)}`);
} finally {
  await connection.close();
  await cp.close();
}
mkdirSync(join(repoRoot, 'bench', 'results'), { recursive: true });
writeFileSync(join(repoRoot, 'bench', 'results', 'lifecycle-create.txt'), lines.join('\n') + '\n');
process.exit(0);
