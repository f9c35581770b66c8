// The HA end-to-end run (`npm run test:ha`, not part of npm test: it is slow). It brings up the
// HA topology (devstack/ha-stack.ts: the production Temporal server on PostgreSQL with mutual
// TLS, two API replicas and two workers from dist/, HAProxy in front), creates a cluster through
// the load balancer as ARM does (PUT, then polling Azure-AsyncOperation and GET), and while the
// create's Terraform activity runs SIGKILLs the worker running it and one API replica. It checks:
// the create Succeeded and the Consul servers answer with one leader; the killed API replica was
// taken out of the load balancer within a few seconds; every client request succeeded or got an
// answer a client retries (counted); the cluster has exactly one create operation and one create
// workflow. Then both replicas are started again, the cluster is deleted through the load
// balancer and nothing is left behind. Results go to test/ha/results/ha.txt. HCS_HA_DIST_DIR
// runs another build output than dist/.
import { Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, uptime } from 'node:os';
import { spawn } from 'node:child_process';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHaStack, type Replica } from '../../devstack/ha-stack.js';
import { AZURITE_TLS_NAMES } from '../../devstack/services/azurite.js';
import { ensureDevCertificate } from '../../lib/dev-tls.js';
import { backendStatus } from '../../devstack/services/haproxy.js';
import { httpCall } from '../../lib/http.js';
import { temporalConnectOptions } from '../../lib/temporal-connection.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { openDatabase } from '../../store/database.js';
import { getClusterServers } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { putSubscription } from '../../store/subscriptions.js';
import { clusterNames, leftovers } from '../support/lifecycle.js';
import { reportLines } from '../support/script-control-plane.js';
import { LbClient, LbGrpcClient } from './lb-client.js';

const API_VERSION = '2026-11-01';
const DEADLINE_MS = 30 * 60_000;
const { lines, log } = reportLines();
const problems: string[] = [];
const check = (ok: boolean, what: string) => {
  log(`  ${ok ? 'OK   ' : 'WRONG'} ${what}`);
  if (!ok) problems.push(what);
};
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// This process checks what a delete left in Azurite, whose TLS CA Node trusts only through
// NODE_EXTRA_CA_CERTS, read at process start: the first run makes the stack's Azurite certificate
// (the service keeps what it finds in its folder) and runs the script again trusting it.
const RUN_DIR_ENV = 'HCS_HA_RUN_DIR';
if (!process.env[RUN_DIR_ENV]) {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const dir = join(repoRoot, '.test-data', `ha-${runId}`);
  const azuriteTls = ensureDevCertificate(join(dir, 'azurite', 'tls'), AZURITE_TLS_NAMES);
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: { ...process.env, [RUN_DIR_ENV]: dir, NODE_EXTRA_CA_CERTS: azuriteTls.caCertFile },
  });
  process.exit(await new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1))));
}
const dataDir = process.env[RUN_DIR_ENV];
const runId = basename(dataDir).slice('ha-'.length);
mkdirSync(dataDir, { recursive: true });
log('# HA end to end: create through HAProxy, SIGKILL one API replica and one worker mid-create');
log(`# command: npm run test:ha    date: ${new Date().toISOString()}`);
log(
  `# machine: ${cpus().length} cores, up ${(uptime() / 60).toFixed(0)} min, load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(', ')}`,
);

const t0 = Date.now();
const ha = await startHaStack({
  dataDir,
  persistent: false,
  databaseName: `hcs_ha_${runId}`,
  temporalDatabasePrefix: `hcs_ha_${runId}`,
  // Another build output than dist/ (a build of one's own beside a shared checkout).
  ...(process.env.HCS_HA_DIST_DIR ? { distDir: process.env.HCS_HA_DIST_DIR } : {}),
  onEvent: (m) => process.stderr.write(`[ha] ${m}\n`),
});
log(
  `topology up in ${secs(Date.now() - t0)}: REST ${ha.lb.restUrl}, gRPC ${ha.lb.grpcAddress}, Temporal ${ha.endpoints.temporal.address} (mutual TLS)`,
);
log(
  `  replicas: ${[...ha.apis, ...ha.workers].map((r) => `${r.name} (pid ${r.process().pid})`).join(', ')}; HAProxy checks ${ha.healthPath}`,
);

const db = await openDatabase(ha.endpoints.database);
const temporal = await Connection.connect(temporalConnectOptions(ha.temporal));
const client = new LbClient({
  baseUrl: ha.lb.restUrl,
  ca: ha.apiCaCertPem,
  token: ha.adminToken,
  onRetry: (what) => log(`    client: ${what}`),
});
const grpc = new LbGrpcClient({
  address: ha.lb.grpcAddress,
  ca: ha.apiCaCertPem,
  token: ha.adminToken,
  onRetry: (what) => log(`    client: ${what}`),
});
let exitCode = 1;
try {
  const sub = randomUUID();
  await putSubscription(db, { subscriptionId: sub, state: 'Registered', tenantId: null, properties: {} });
  const clusterName = `ha-${runId.slice(-6)}`;
  const id = `/subscriptions/${sub}/resourceGroups/rg-ha/providers/HCS.Consul/clusters/${clusterName}`;
  const key = id.toLowerCase();
  const q = `?api-version=${API_VERSION}`;
  log(`create: ${id}`);
  const created = Date.now();
  const put = await client.call('PUT', `${id}${q}`, {
    location: 'westeurope',
    properties: { consulVersion: ha.endpoints.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: '10.88.0.0/16' } },
  });
  if (put?.status !== 201) throw new Error(`PUT answered ${put?.status}: ${put?.body}`);
  const statusUrl = String(put.headers['azure-asyncoperation']);

  // The killer: once the Terraform activity has run a few seconds, SIGKILL the worker running it and api-1.
  const killed = killMidCreate(key).catch((err: unknown) => {
    problems.push(`kill: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  });

  // ARM's polling: the operation status and the resource, through the load balancer, every
  // second; and a gRPC client reading the cluster on one channel through the load balancer.
  let status = 'InProgress';
  let polls = 0;
  while (!['Succeeded', 'Failed', 'Canceled'].includes(status)) {
    if (Date.now() - created > DEADLINE_MS) throw new Error(`create still ${status} after ${secs(DEADLINE_MS)}`);
    await sleep(1_000);
    const op = await client.call('GET', statusUrl);
    const res = await client.call('GET', `${id}${q}`);
    await grpc.call('ClusterService/GetCluster', { subscriptionId: sub, resourceGroup: 'rg-ha', clusterName });
    polls++;
    if (op?.status === 200) status = (JSON.parse(op.body) as { status: string }).status;
    else if (op) problems.push(`operation status answered ${op.status}: ${op.body.slice(0, 200)}`);
    if (res && res.status !== 200) problems.push(`GET cluster answered ${res.status}: ${res.body.slice(0, 200)}`);
  }
  const kill = await killed;
  log(`create: ${status} in ${secs(Date.now() - created)} (${polls} polls of status and resource over REST, of the cluster over gRPC)`);
  check(status === 'Succeeded', 'the create Succeeded');
  check(kill !== undefined, 'a worker and an API replica were SIGKILLed while the Terraform activity ran');
  if (kill) {
    log(`  SIGKILL at ${secs(kill.at - created)}: ${kill.worker} (ran ${kill.activity}) and ${kill.api}`);
    log(`  HAProxy took ${kill.api} out ${secs(kill.downAfterMs)} after the kill`);
    check(kill.downAfterMs <= 5_000, `${kill.api} out of the load balancer within 5 s`);
    log(
      `  the Terraform activity ran again on ${kill.resumedOn} ${secs(kill.resumedAfterMs)} after the kill (heartbeat timeout 10 s, then the retry's 2 s)`,
    );
    check(kill.resumedAfterMs <= 15_000, 'the interrupted activity resumed within 15 s');
    log(`  Succeeded ${secs(Date.now() - kill.at)} after the kills`);
  }

  // The cluster: its servers answer, one leader.
  const access = await client.call('POST', `${id}/listClientConfig${q}`);
  const doc = access?.status === 200 ? (JSON.parse(access.body) as { clientConfigJson: string; caBundlePem: string }) : undefined;
  // The client configuration names the servers by DNS; their addresses are in the store (from Terraform's outputs).
  const addresses = doc ? (await getClusterServers(db, key)).map((s) => s.address) : [];
  const leaders = await Promise.all(
    addresses.map((a) =>
      httpCall(`https://${a}:8501/v1/status/leader`, { ca: doc!.caBundlePem }).then(
        (r) => (r.status === 200 ? (JSON.parse(r.body) as string) : `answered ${r.status}`),
        (e: unknown) => `error ${e instanceof Error ? e.message : String(e)}`,
      ),
    ),
  );
  log(`  servers ${addresses.join(', ')}; leader as each sees it: ${leaders.join(', ')}`);
  check(
    addresses.length === 3 && leaders.every((l) => l && l === leaders[0] && /:\d+$/.test(l)),
    '3 Consul servers answer with one leader',
  );

  // Exactly one create: in the store and in Temporal.
  const creates = (await listOperations(db, key)).filter((o) => o.kind === 'create');
  const workflows: string[] = [];
  const list = await temporal.workflowService.listWorkflowExecutions({
    namespace: ha.temporal.namespace,
    query: `ClusterId = "${key}"`,
  });
  for (const w of list.executions ?? []) if (w.execution?.workflowId?.includes('/create/')) workflows.push(w.execution.workflowId);
  log(`  create operations ${creates.length}, create workflows ${workflows.length}`);
  check(
    creates.length === 1 && workflows.length === 1 && workflows[0] === creates[0]!.workflowId,
    'one create operation, one create workflow',
  );

  // The killed replicas come back and are taken in again.
  if (kill) {
    const back = Date.now();
    await Promise.all([kill.apiReplica.restart(), kill.workerReplica.restart()]);
    const upAfter = await waitForServer(kill.api, 'UP', 20_000);
    log(
      `  ${kill.api} and ${kill.worker} started again in ${secs(Date.now() - back)}; ${kill.api} UP in HAProxy ${secs(upAfter)} after its start`,
    );
  }

  // Delete through the load balancer; nothing left behind.
  const names = await clusterNames(db, key);
  const deleted = Date.now();
  const del = await client.call('DELETE', `${id}${q}`);
  if (del?.status !== 202) throw new Error(`DELETE answered ${del?.status}: ${del?.body}`);
  const location = String(del.headers.location);
  for (let done = false; !done;) {
    if (Date.now() - deleted > DEADLINE_MS) throw new Error('delete did not finish');
    await sleep(1_000);
    const r = await client.call('GET', location);
    done = r !== undefined && r.status !== 202;
    if (done && r!.status >= 300) problems.push(`delete's Location answered ${r!.status}: ${r!.body.slice(0, 200)}`);
  }
  const gone = await client.call('GET', `${id}${q}`);
  const left = await leftovers(ha.endpoints, db, { resourceKey: key, addresses, ...names });
  const remaining = Object.entries(left).filter(([, v]) => v.length);
  log(
    `delete: done in ${secs(Date.now() - deleted)}; GET answers ${gone?.status}; left behind: ${remaining.length ? JSON.stringify(Object.fromEntries(remaining)) : 'nothing'}`,
  );
  check(gone?.status === 404 && remaining.length === 0, 'the delete left nothing behind');

  const c = client.counts;
  const retried = Object.entries(c.retried).map(([k, v]) => `${k} x${v}`);
  log(
    `client: ${c.answered} requests answered, retried attempts: ${retried.length ? retried.join(', ') : 'none'}, failures a client cannot retry: ${c.failed.length}`,
  );
  for (const f of c.failed) log(`  failed: ${f}`);
  const g = grpc.counts;
  const gRetried = Object.entries(grpc.retriedStatuses).map(([k, v]) => `${k} x${v}`);
  log(
    `gRPC client: ${g.answered} calls answered, retried attempts: ${gRetried.length ? gRetried.join(', ') : 'none'}, failures: ${g.failed.length}`,
  );
  for (const f of g.failed) log(`  failed: ${f}`);
  check(c.failed.length === 0 && g.failed.length === 0, 'every client request (REST and gRPC) succeeded or got an answer a client retries');
  exitCode = problems.length === 0 ? 0 : 1;
} catch (err) {
  log(`run stopped: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  for (const p of problems) log(`problem: ${p}`);
  log(
    `# ${problems.length === 0 && exitCode === 0 ? 'PASS' : 'FAIL'} in ${secs(Date.now() - t0)}; load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')}`,
  );
  grpc.close();
  await temporal.close();
  await db.close();
  await ha.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
mkdirSync(join(repoRoot, 'test', 'ha', 'results'), { recursive: true });
writeFileSync(join(repoRoot, 'test', 'ha', 'results', 'ha.txt'), lines.join('\n') + '\n');
process.exit(exitCode);

interface Kill {
  at: number;
  activity: string;
  worker: string;
  api: string;
  workerReplica: Replica;
  apiReplica: Replica;
  downAfterMs: number;
  /** From the kill until Temporal handed the activity to another worker (its next attempt started). */
  resumedAfterMs: number;
  resumedOn: string;
}

/** Waits until the Terraform activity's next attempt has started after `killedAt` (on a surviving worker). */
async function activityResumed(workflowId: string, killedAt: number): Promise<{ resumedAfterMs: number; resumedOn: string }> {
  for (const end = Date.now() + 5 * 60_000; Date.now() < end; await sleep(250)) {
    const d = await temporal.workflowService.describeWorkflowExecution({ namespace: ha.temporal.namespace, execution: { workflowId } });
    const a = d.pendingActivities?.find((x) => x.activityType?.name === 'applyInfrastructure');
    const started = a?.lastStartedTime
      ? Number(String(a.lastStartedTime.seconds)) * 1000 + Math.floor((a.lastStartedTime.nanos ?? 0) / 1e6)
      : 0;
    if (a && (a.attempt ?? 1) >= 2 && started > killedAt) {
      const pid = Number((a.lastWorkerIdentity ?? '').split('@')[0]);
      return { resumedAfterMs: started - killedAt, resumedOn: ha.workers.find((w) => w.process().pid === pid)?.name ?? String(pid) };
    }
  }
  throw new Error('the Terraform activity did not run again within 5 minutes of the kill');
}

/** Waits for the create's Terraform activity to run on a worker for a few seconds, then SIGKILLs that worker and api-1. */
async function killMidCreate(resourceKey: string): Promise<Kill> {
  const end = Date.now() + DEADLINE_MS;
  for (;;) {
    if (Date.now() > end) throw new Error('the Terraform activity never ran');
    await sleep(500);
    const [op] = (await listOperations(db, resourceKey)).filter((o) => o.kind === 'create');
    if (op && ['Succeeded', 'Failed', 'Canceled'].includes(op.status))
      throw new Error(`the create ended (${op.status}) before its Terraform activity was seen running`);
    if (!op || op.status !== 'Running' || op.step !== 'infrastructure') continue;
    const d = await temporal.workflowService.describeWorkflowExecution({
      namespace: ha.temporal.namespace,
      execution: { workflowId: op.workflowId },
    });
    const running = d.pendingActivities?.find((a) => a.activityType?.name === 'applyInfrastructure' && a.lastStartedTime);
    const pid = Number((running?.lastWorkerIdentity ?? '').split('@')[0]);
    const workerReplica = ha.workers.find((w) => w.process().pid === pid);
    if (!running || !workerReplica) continue;
    // Let terraform get going: the kill lands while it talks to the twin.
    await sleep(3_000);
    const apiReplica = ha.apis[0]!;
    const at = Date.now();
    await Promise.all([workerReplica.kill(), apiReplica.kill()]);
    await waitForServer(apiReplica.name, 'DOWN', 15_000);
    const downAfterMs = Date.now() - at;
    const resumed = await activityResumed(op.workflowId, at);
    return {
      ...resumed,
      at,
      activity: 'applyInfrastructure',
      worker: workerReplica.name,
      api: apiReplica.name,
      workerReplica,
      apiReplica,
      downAfterMs,
    };
  }
}

/** Milliseconds until HAProxy reports `server` with `status` in both backends (from the call). */
async function waitForServer(server: string, status: string, withinMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const states = (await backendStatus(ha.lb.statsUrl)).filter((s) => s.server === server);
    if (states.length > 0 && states.every((s) => s.status === status)) return Date.now() - start;
    if (Date.now() - start > withinMs)
      throw new Error(`${server} not ${status} in HAProxy within ${secs(withinMs)}: ${JSON.stringify(states)}`);
    await sleep(100);
  }
}
