// Benchmark (`npm run bench:history`): how big each operation's workflow history gets. A 3-server
// cluster is created on the older Consul, a manual snapshot taken, an upgrade forced to the newer
// version, the client configuration rotated (createRootToken) and the cluster deleted; for each
// operation's workflow it lists the events, the payloads and their bytes (as stored: encrypted)
// and Temporal's own history size. Temporal's limits are 51,200 events and 50 MB per history
// (warnings from 10,240 events and 10 MB); our budget is 1,000 events per operation. Results go
// to bench/results/workflow-history.txt.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { stackForScript } from '../devstack/script-stack.js';
import { listOperations } from '../store/operations.js';
import { HISTORY_BUDGET_EVENTS } from '../workflows/history-budget.js';
import { startControlPlane } from '../test/api/harness.js';
import { createCluster } from '../test/support/control-plane-fixture.js';
import { arm, followLocation, lifecycleConfig } from '../test/support/lifecycle.js';
import { BenchReport } from './support/report.js';

const EVENT_BUDGET = 1_000;

const stack = await stackForScript({ name: 'bench_history', scriptUrl: import.meta.url });
const cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
const connection = await Connection.connect({ address: stack.temporal.address });
const temporal = new Client({ connection, namespace: stack.temporal.namespace });
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const report = new BenchReport('workflow-history', {
  command: 'npm run bench:history',
  about: [
    "events, payloads and bytes (as stored: encrypted) of each operation's workflow history",
    `a 3-server cluster: create (${older}), createSnapshot, upgrade to ${newer} (forced), createRootToken, delete`,
    `budget ${EVENT_BUDGET} events per operation (Temporal's own limit 51,200; waits longer than ${HISTORY_BUDGET_EVENTS} events continue as new)`,
  ],
});
const out = (l: string) => report.line(l);

/** Every Payload under a history event (input, results, headers, memo, failures' details). */
function payloadBytes(node: unknown, acc = { count: 0, bytes: 0 }): { count: number; bytes: number } {
  if (node === null || typeof node !== 'object' || node instanceof Uint8Array) return acc;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
    acc.count++;
    acc.bytes += (o.data as Uint8Array | undefined)?.length ?? 0;
    return acc;
  }
  for (const v of Object.values(o)) payloadBytes(v, acc);
  return acc;
}

async function follow(path: string): Promise<void> {
  const r = await followLocation(cp, path);
  if (r.status >= 300) throw new Error(`operation ended with ${r.status}: ${r.body.slice(0, 300)}`);
}

try {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-bench/providers/HCS.Consul/clusters/history`;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: older, serverCount: 3, network: { cidr: '10.77.0.0/16' } },
  });
  for (const [action, body] of [
    ['createSnapshot', { name: 'bench' }],
    ['upgrade', { consulVersion: newer, force: true }],
    ['createRootToken', {}],
  ] as const) {
    const r = await arm(cp, 'POST', `${id}/${action}`, body);
    if (r.status !== 202) throw new Error(`${action} answered ${r.status}: ${r.body}`);
    await follow(String(r.headers.location));
  }
  const ops = (await listOperations(cp.db, id.toLowerCase())).reverse();
  const del = await arm(cp, 'DELETE', id);
  await follow(String(del.headers.location));
  const deleted = (await listOperations(cp.db, id.toLowerCase())).find((o) => o.kind === 'delete');
  out('');
  out(
    `${'operation'.padEnd(10)} ${'status'.padEnd(10)} ${'events'.padStart(6)} ${'payloads'.padStart(8)} ${'payload bytes'.padStart(13)} ${'history bytes'.padStart(13)}`,
  );
  let worst = 0;
  const figures: Array<{ kind: string; events: number; bytes: number }> = [];
  for (const op of [...ops, ...(deleted ? [deleted] : [])]) {
    const handle = temporal.workflow.getHandle(op.workflowId);
    const history = await handle.fetchHistory();
    const p = payloadBytes(history.events);
    // The raw description: the client's describe() would decode the (encrypted) memo.
    const d = await connection.workflowService.describeWorkflowExecution({
      namespace: stack.temporal.namespace,
      execution: { workflowId: op.workflowId },
    });
    const events = history.events?.length ?? 0;
    worst = Math.max(worst, events);
    figures.push({ kind: op.kind, events, bytes: Number(d.workflowExecutionInfo?.historySizeBytes ?? 0) });
    out(
      `${op.kind.padEnd(10)} ${op.status.padEnd(10)} ${String(events).padStart(6)} ${String(p.count).padStart(8)} ${String(p.bytes).padStart(13)} ${String(d.workflowExecutionInfo?.historySizeBytes ?? '?').padStart(13)}`,
    );
  }
  out('');
  for (const f of figures)
    report.figure({ name: `${f.kind} history events`, value: f.events, unit: 'events', goal: { kind: 'max', value: EVENT_BUDGET } });
  for (const f of figures) report.figure({ name: `${f.kind} history size`, value: Math.round(f.bytes / 1024), unit: 'KiB' });
  report.figure({ name: 'largest history', value: worst, unit: 'events', goal: { kind: 'max', value: EVENT_BUDGET } });
} finally {
  await connection.close();
  await cp.close();
}
report.write();
process.exit(0);
