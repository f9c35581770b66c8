// Benchmark (`npm run bench:create`): creates of 3-server clusters on the local twin, one after
// the other (each deleted before the next, not measured). Two figures:
//
// - end to end: from the REST PUT until the operation's status (polled every 25 ms) says
//   Succeeded. Same-run baseline: what no control plane can go below on this machine, the sum of
//   the two steps it cannot shorten: Terraform's own `apply` of the saved plan (the command alone,
//   from the worker's log) and Consul's own time to elect a leader (three fresh servers of the
//   same binary with our servers' raft_multiplier 1, started together, support/consul-election.ts).
// - control-plane overhead: the total minus the union of the time inside activities (activities
//   from their Started to Completed events in the history; local activities, which leave only a
//   marker, from the worker's own start and end log entries: support/activity-time.ts). Same-run
//   baselines: the Temporal server's own overhead for a workflow with one empty activity, and for
//   one of a create's shape with every activity empty (support/temporal-floor.ts): the floor of
//   any create that keeps its steps as separate activities. The overhead is also split in three:
//   from the PUT to the workflow's start (the accept and the relay), between and around its
//   steps, and from its last step's end until the poll sees Succeeded. The create's shape runs
//   again on the bare worker while one more create (not counted) runs beside it: how long a
//   workflow task takes under a create's load, apart from our worker.
//
// Also prints where each create's time went (per activity type, and Terraform's commands).
// Results: bench/results/lifecycle-create.txt and .json (support/report.ts).
import { Client, Connection } from '@temporalio/client';
import temporalProto from '@temporalio/proto';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { stackForScript } from '../devstack/script-stack.js';
import { getOperation, listOperations } from '../store/operations.js';
import { startControlPlane } from '../test/api/harness.js';
import { arm, followLocation, lifecycleConfig } from '../test/support/lifecycle.js';
import {
  historyIntervals,
  historyStartMs,
  historyWaits,
  LocalActivityLog,
  unionMs,
  type HistoryWaits,
  type Interval,
} from './support/activity-time.js';
import { consulElectionMs } from './support/consul-election.js';
import { BenchReport } from './support/report.js';
import { CREATE_SHAPE } from './support/floor-workflow.js';
import { temporalFloorMs } from './support/temporal-floor.js';

const CLUSTERS = Number(process.env.HCS_BENCH_CLUSTERS ?? 3);

const stack = await stackForScript({ name: 'bench', scriptUrl: import.meta.url });
// The worker's log (this process runs it): local activities' start and end, Terraform's commands.
const localActivities = new LocalActivityLog();
const terraformCommands = new Map<string, Array<{ command: string; ms: number }>>();
const takeLog = (entry: LogEntry) => {
  localActivities.take(entry);
  const m = entry.meta as { workflowId?: string; command?: string; ms?: number } | undefined;
  if (entry.message === 'terraform command ended' && m?.workflowId && m.command && m.ms !== undefined)
    terraformCommands.set(m.workflowId, [...(terraformCommands.get(m.workflowId) ?? []), { command: m.command, ms: m.ms }]);
  if (entry.level === 'ERROR') console.error(entry.message, entry.meta);
};
Runtime.install({ logger: new DefaultLogger('DEBUG', takeLog) });

const cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
const connection = await Connection.connect({ address: stack.temporal.address });
const temporal = new Client({ connection, namespace: stack.temporal.namespace });
const consulVersion = stack.tools.consulVersions.at(-1)!;
const report = new BenchReport('lifecycle-create', {
  command: 'npm run bench:create',
  about: [
    `${CLUSTERS} creates of 3-server clusters (Consul ${consulVersion}) on the local twin, one after the other, each deleted before the next`,
    'end to end: REST PUT until the operation status (polled every 25 ms) is Succeeded; baseline: terraform apply (the command alone) + Consul electing a leader (3 fresh servers), both measured in this run',
    "overhead: end to end minus the union of the time inside activities (history events) and local activities (the worker's own log); baseline: Temporal's own overhead for one workflow with one empty activity, this run",
  ],
});

interface CreateRun {
  total: number;
  inside: number;
  intervals: Interval[];
  terraform: Array<{ command: string; ms: number }>;
  election: number;
  defaultElection: number;
  /** The overhead's parts: PUT to the workflow's start, between and around its steps, last step to the poll seeing Succeeded. */
  toStart: number;
  between: number;
  tail: number;
  waits: HistoryWaits;
}
const runs: CreateRun[] = [];
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const s = (v: number) => (v / 1000).toFixed(2);
const meanWaits = (ws: HistoryWaits[]): HistoryWaits => ({
  workflowTaskQueueMs: mean(ws.map((w) => w.workflowTaskQueueMs)),
  workflowTaskRunMs: mean(ws.map((w) => w.workflowTaskRunMs)),
  activityQueueMs: mean(ws.map((w) => w.activityQueueMs)),
  workflowTasks: mean(ws.map((w) => w.workflowTasks)),
});
const describeWaits = (w: HistoryWaits) =>
  `${Math.round(w.workflowTasks)} workflow tasks, waiting for a worker ${Math.round(w.workflowTaskQueueMs)} ms and running ${Math.round(w.workflowTaskRunMs)} ms in all (${Math.round(w.workflowTaskRunMs / Math.max(1, w.workflowTasks))} ms each); activities waiting for a worker ${Math.round(w.activityQueueMs)} ms in all (parallel ones add up)`;

/** One create, PUT to Succeeded, measured from its history and the worker's log. */
async function measureCreate(i: number) {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-bench/providers/HCS.Consul/clusters/bench-${i}`;
  const started = performance.now();
  const startedAt = Date.now();
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion, serverCount: 3, network: { cidr: `10.${80 + i}.0.0/16` } },
  });
  if (put.status !== 201) throw new Error(`PUT answered ${put.status}: ${put.body}`);
  const statusUrl = String(put.headers['azure-asyncoperation']);
  for (;;) {
    const st = JSON.parse((await arm(cp, 'GET', statusUrl)).body) as { status: string };
    if (st.status === 'Succeeded') break;
    if (st.status === 'Failed' || st.status === 'Canceled') throw new Error(`create ${st.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  const total = performance.now() - started;
  const [op] = await listOperations(cp.db, id.toLowerCase());
  // The workflow ends a moment after the operation is recorded Succeeded (its last local activity).
  // (Raw: the memo is encrypted, which the client's describe() would try to decode.)
  const running = async () =>
    (
      await connection.workflowService.describeWorkflowExecution({
        namespace: stack.temporal.namespace,
        execution: { workflowId: op!.workflowId },
      })
    ).workflowExecutionInfo?.status === temporalProto.temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING;
  while (await running()) await new Promise((r) => setTimeout(r, 25));
  const history = await temporal.workflow.getHandle(op!.workflowId).fetchHistory();
  // performance.now() and the event times are on different clocks: the union is a length only.
  const intervals = [...historyIntervals(history.events ?? []), ...localActivities.of(op!.workflowId)];
  const inside = unionMs(intervals);
  // The overhead in three parts (one machine, one clock: epoch ms).
  const toStart = historyStartMs(history.events ?? []) - startedAt;
  const tail = startedAt + total - Math.max(...intervals.map((iv) => iv.end));
  const between = total - inside - toStart - tail;
  const terraform = terraformCommands.get(op!.workflowId) ?? [];
  return { id, op: op!, total, inside, intervals, terraform, toStart, between, tail, waits: historyWaits(history.events ?? []) };
}

/** Deletes a measured cluster (not measured) and waits until that has succeeded. */
async function deleteCluster(c: { id: string; op: { operationId: string } }) {
  const del = await arm(cp, 'DELETE', c.id);
  await followLocation(cp, String(del.headers.location));
  if ((await getOperation(cp.db, c.op.operationId))?.status !== 'Succeeded') throw new Error('create operation not Succeeded');
}

try {
  for (let i = 1; i <= CLUSTERS; i++) {
    const created = await measureCreate(i);
    const { total, inside, intervals, terraform, toStart, between, tail, waits } = created;
    // Clean up before the next one (not measured), then Consul's own election with nothing else running.
    await deleteCluster(created);
    // With the Raft timing our servers run (raft_multiplier 1, domain/consul-config.ts), and with
    // Consul's default (5) for comparison.
    const election = await consulElectionMs(stack.tools.consul[consulVersion]!, { raftMultiplier: 1 });
    const defaultElection = await consulElectionMs(stack.tools.consul[consulVersion]!);
    runs.push({ total, inside, intervals, terraform, election, defaultElection, toStart, between, tail, waits });
    const apply = terraform.filter((t) => t.command === 'apply').reduce((a, t) => a + t.ms, 0);
    report.line(
      `create ${i}: end to end ${s(total)} s, inside activities ${s(inside)} s, overhead ${Math.round(total - inside)} ms; ` +
        `terraform apply ${s(apply)} s, Consul election (alone, raft_multiplier 1) ${s(election)} s (Consul's default timing: ${s(defaultElection)} s)`,
    );
    report.line(`  terraform commands: ${terraform.map((t) => `${t.command} ${s(t.ms)}`).join(', ')}`);
    report.line(
      `  overhead: PUT to the workflow's start ${Math.round(toStart)} ms, between and around its steps ${Math.round(between)} ms, last step to the poll seeing Succeeded ${Math.round(tail)} ms`,
    );
    report.line(`  ${describeWaits(waits)}`);
  }
  const floor = await temporalFloorMs({ address: stack.temporal.address, namespace: stack.temporal.namespace, client: temporal, runs: 5 });
  report.line(`Temporal floor (one workflow, one empty activity), 5 runs: ${floor.map((f) => `${Math.round(f)} ms`).join(', ')}`);
  const shapeWaits: HistoryWaits[] = [];
  const shapeFloor = await temporalFloorMs({
    address: stack.temporal.address,
    namespace: stack.temporal.namespace,
    client: temporal,
    runs: 5,
    workflowType: 'createShapeFloorWorkflow',
    onHistory: (events) => shapeWaits.push(historyWaits(events)),
  });
  report.line(
    `Temporal floor of a create's shape (${CREATE_SHAPE.remote} empty activities, ${CREATE_SHAPE.local} empty local ones, in the create's order and groups), 5 runs: ${shapeFloor.map((f) => `${Math.round(f)} ms`).join(', ')}`,
  );
  // Is a create's workflow task slower because of our worker, or because of what a create makes
  // the machine do (terraform, three Consul servers and their host-managers)? The same shape on
  // the bare worker, over and over while one more create (not counted above) runs beside it.
  const besideWaits: HistoryWaits[] = [];
  let besideCreate: Awaited<ReturnType<typeof measureCreate>> | undefined;
  const besideFloor = await temporalFloorMs({
    address: stack.temporal.address,
    namespace: stack.temporal.namespace,
    client: temporal,
    runs: 1,
    workflowType: 'createShapeFloorWorkflow',
    onHistory: (events) => besideWaits.push(historyWaits(events)),
    beside: async () => (besideCreate = await measureCreate(CLUSTERS + 1)),
  });
  await deleteCluster(besideCreate!);
  report.line(
    `the create's shape on a bare worker while a create runs beside it, ${besideFloor.length} runs: overhead mean ${Math.round(mean(besideFloor))} ms; mean ${describeWaits(meanWaits(besideWaits))}`,
  );
  report.line(
    `  the create beside it: end to end ${s(besideCreate!.total)} s, overhead ${Math.round(besideCreate!.total - besideCreate!.inside)} ms; ${describeWaits(besideCreate!.waits)}`,
  );

  report.line('');
  report.line('mean time per activity type, s (local: a local activity; parallel ones overlap):');
  const types = [...new Set(runs.flatMap((r) => r.intervals.map((iv) => `${iv.type}${iv.local ? ' (local)' : ''}`)))];
  const perType = (r: CreateRun, t: string) =>
    r.intervals.filter((iv) => `${iv.type}${iv.local ? ' (local)' : ''}` === t).reduce((a, iv) => a + iv.end - iv.start, 0);
  for (const t of types.sort((a, b) => mean(runs.map((r) => perType(r, b))) - mean(runs.map((r) => perType(r, a)))))
    report.line(`  ${t.padEnd(36)} ${s(mean(runs.map((r) => perType(r, t))))}`);
  const commands = [...new Set(runs.flatMap((r) => r.terraform.map((t) => t.command)))];
  report.line(
    `mean terraform command time, s: ${commands
      .map((c) => `${c} ${s(mean(runs.map((r) => r.terraform.filter((t) => t.command === c).reduce((a, t) => a + t.ms, 0))))}`)
      .join(', ')}`,
  );
  report.line('');

  const applyMs = mean(runs.map((r) => r.terraform.filter((t) => t.command === 'apply').reduce((a, t) => a + t.ms, 0)));
  const electionMs = mean(runs.map((r) => r.election));
  report.figure({
    name: 'mean control-plane overhead',
    value: Math.round(mean(runs.map((r) => r.total - r.inside))),
    unit: 'ms',
    goal: { kind: 'max', value: 250 },
    baseline: { label: 'Temporal floor (1 workflow, 1 empty activity)', value: Math.round(mean(floor)) },
  });
  report.line(`the create's shape on a bare worker, mean of 5: ${describeWaits(meanWaits(shapeWaits))}`);
  report.line(`the creates, mean: ${describeWaits(meanWaits(runs.map((r) => r.waits)))}`);
  report.line(
    `mean overhead parts: PUT to the workflow's start ${Math.round(mean(runs.map((r) => r.toStart)))} ms, between and around its steps ${Math.round(mean(runs.map((r) => r.between)))} ms, last step to the poll seeing Succeeded ${Math.round(mean(runs.map((r) => r.tail)))} ms`,
  );
  report.figure({
    name: "Temporal floor of a create's shape",
    value: Math.round(mean(shapeFloor)),
    unit: 'ms',
    goal: { kind: 'max', value: 250 },
    baseline: { label: 'Temporal floor (1 workflow, 1 empty activity)', value: Math.round(mean(floor)) },
  });
  report.figure({
    name: 'mean end-to-end create',
    value: Number((mean(runs.map((r) => r.total)) / 1000).toFixed(2)),
    unit: 's',
    goal: { kind: 'max', value: 12 },
    baseline: { label: 'terraform apply + Consul election', value: Number(((applyMs + electionMs) / 1000).toFixed(2)) },
  });
  report.figure({ name: 'mean inside activities (union)', value: Number((mean(runs.map((r) => r.inside)) / 1000).toFixed(2)), unit: 's' });
  report.figure({ name: 'mean terraform apply (command alone)', value: Number((applyMs / 1000).toFixed(2)), unit: 's' });
  report.figure({ name: 'mean Consul election, raft_multiplier 1', value: Number((electionMs / 1000).toFixed(2)), unit: 's' });
  report.figure({
    name: "mean Consul election, Consul's default timing",
    value: Number((mean(runs.map((r) => r.defaultElection)) / 1000).toFixed(2)),
    unit: 's',
  });
  report.write();
} finally {
  await connection.close();
  await cp.close();
}
process.exit(0);
