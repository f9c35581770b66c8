// Fleet simulation, benchmark only (bench/fleet-scale.ts; never used by the product): simulated
// clusters recorded in the store under names no customer has (subscription FLEETSIM_SUBSCRIPTION,
// resource group rg-fleetsim-bench, clusters fleetsim-<n>), each with one server on a shared dev
// agent (fleet-sim-agents.ts) and its snapshot token, and their per-cluster Temporal schedules
// made as activities/snapshot-schedules.ts and activities/certificate-schedule.ts make them
// (same ids, interval, workflow, arguments, search attributes, certificate phase half an hour
// after the snapshot's). One difference: the snapshot phase. The product's comes from the moment
// a cluster is created, which spreads a real fleet over the hour; a simulated fleet is recorded
// in minutes, so its phases are spread evenly over the hour instead (firing j of a batch of B at
// base + j*3600/B s), which gives the fleet's real rate (N/3600 firings per s per task) in any
// window.
import type { ScheduleClient } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { CERTIFICATE_SCHEDULE_WORKFLOW, clusterSearchAttributes, SNAPSHOT_SCHEDULE_WORKFLOW } from '../../contract/temporal.js';
import { SECRET } from '../../contract/secret-names.js';
import { certificateScheduleId } from '../../domain/certificate-schedule.js';
import type { ClusterSpec } from '../../domain/cluster-spec.js';
import { snapshotScheduleId } from '../../activities/snapshot-schedules.js';
import { deleteSchedule, upsertIntervalSchedule, type IntervalSchedule } from '../../activities/schedules.js';
import { setClusterServers, upsertCluster } from '../../store/clusters.js';
import type { SqlExecutor } from '../../store/database.js';
import { putSecret } from '../../store/secrets.js';
import type { SimAgent } from './fleet-sim-agents.js';

export const FLEETSIM_SUBSCRIPTION = 'f1ee7517-0000-4000-8000-000000000000';
export const FLEETSIM_RESOURCE_GROUP = 'rg-fleetsim-bench';
/** Snapshots hourly; certificate checks hourly too (the worker's certificate lifetime is set to 12 h, a check per twelfth). */
export const FLEETSIM_INTERVAL_SECONDS = 3600;
export const FLEETSIM_CERT_TTL_HOURS = 12;

export const simClusterName = (i: number) => `fleetsim-${String(i).padStart(5, '0')}`;
export const simClusterId = (i: number) =>
  `/subscriptions/${FLEETSIM_SUBSCRIPTION}/resourceGroups/${FLEETSIM_RESOURCE_GROUP}/providers/HCS.Consul/clusters/${simClusterName(i)}`;
export const simResourceKey = (i: number) => simClusterId(i).toLowerCase();
/** The simulated cluster's number from its resource key (undefined for any other cluster). */
export function simClusterIndex(resourceKey: string): number | undefined {
  const m = /\/clusters\/fleetsim-(\d+)$/.exec(resourceKey);
  return m && resourceKey.includes(FLEETSIM_SUBSCRIPTION) ? Number(m[1]) : undefined;
}
export const simAgentOf = (i: number, agents: number) => i % agents;

/** Runs `fn` over `items` with at most `limit` at a time. */
export async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/**
 * Records clusters [from, to) in the store: provisioned, one server at its agent's label and the
 * agent's token as its snapshot and management token (transit-encrypted once per agent). Clusters
 * for which `real(i)` is false get no server: each firing then stops at the product's own check
 * ("the cluster has no servers yet") - the firing path without the Consul and Blob work.
 */
export async function recordSimClusters(o: {
  db: SqlExecutor;
  from: number;
  to: number;
  spec: ClusterSpec;
  agents: SimAgent[];
  encrypt: (plaintext: string) => Promise<string>;
  real: (i: number) => boolean;
}): Promise<void> {
  const tokens = await Promise.all(o.agents.map((a) => o.encrypt(JSON.stringify({ accessorId: randomUUID(), secretId: a.token }))));
  const indexes = Array.from({ length: o.to - o.from }, (_, j) => o.from + j);
  await inPool(indexes, 8, async (i) => {
    const key = simResourceKey(i);
    const k = simAgentOf(i, o.agents.length);
    await upsertCluster(o.db, {
      resourceKey: key,
      id: simClusterId(i),
      subscriptionId: FLEETSIM_SUBSCRIPTION,
      resourceGroup: FLEETSIM_RESOURCE_GROUP,
      name: simClusterName(i),
      spec: o.spec,
      provisioningState: 'Succeeded',
      etag: `"${randomUUID()}"`,
      systemData: null,
    });
    if (!o.real(i)) return;
    await setClusterServers(o.db, key, [{ index: 0, name: `${simClusterName(i)}-server-0`, zone: '1', address: o.agents[k]!.label }], {
      currentConsulVersion: o.spec.properties.consulVersion,
    });
    await putSecret(o.db, key, SECRET.snapshotToken, tokens[k]!);
    await putSecret(o.db, key, SECRET.managementToken, tokens[k]!);
  });
}

/** The two schedules the product makes for cluster i, the snapshot's first firing at `firstSnapshotAt` (s since the epoch). */
export function simClusterSchedules(i: number, taskQueue: string, firstSnapshotAt: number): IntervalSchedule[] {
  const key = simResourceKey(i);
  const interval = FLEETSIM_INTERVAL_SECONDS;
  const phase = (((firstSnapshotAt - Math.floor(Date.now() / 1000)) % interval) + interval) % interval;
  const attrs = (operation: string) =>
    clusterSearchAttributes({ resourceKey: key, subscriptionId: FLEETSIM_SUBSCRIPTION }, FLEETSIM_RESOURCE_GROUP, operation);
  return [
    {
      scheduleId: snapshotScheduleId(key),
      intervalSeconds: interval,
      phaseSeconds: phase,
      workflowType: SNAPSHOT_SCHEDULE_WORKFLOW,
      args: [{ resourceKey: key }],
      taskQueue,
      note: `snapshots of ${key} every ${interval} s`,
      searchAttributes: attrs('snapshot'),
    },
    {
      scheduleId: certificateScheduleId(key),
      intervalSeconds: interval,
      // certificateSchedulePhase(3600): half an hour after the snapshot's.
      phaseSeconds: (phase + 1800) % interval,
      workflowType: CERTIFICATE_SCHEDULE_WORKFLOW,
      args: [{ resourceKey: key }],
      taskQueue,
      note: `certificate check of ${key} every ${interval} s`,
      searchAttributes: attrs('rotate'),
    },
  ];
}

/** When cluster j of a batch of `size` first snapshots: spread evenly over the hour from `base`. */
export const simFirstSnapshot = (base: number, j: number, size: number) => base + Math.floor((j * FLEETSIM_INTERVAL_SECONDS) / size);

/** Creates the per-cluster schedules of clusters [from, to); returns each cluster's snapshot second within the hour. */
export async function createPerClusterSchedules(o: {
  client: ScheduleClient;
  taskQueue: string;
  from: number;
  to: number;
  base: number;
  concurrency: number;
}): Promise<Map<number, number>> {
  const size = o.to - o.from;
  const phases = new Map<number, number>();
  const indexes = Array.from({ length: size }, (_, j) => o.from + j);
  await inPool(indexes, o.concurrency, async (i) => {
    const first = simFirstSnapshot(o.base, i - o.from, size);
    phases.set(i, first % FLEETSIM_INTERVAL_SECONDS);
    for (const s of simClusterSchedules(i, o.taskQueue, first)) await upsertIntervalSchedule(o.client, s);
  });
  return phases;
}

/** How many firings (snapshot + certificate) of clusters with these snapshot seconds fall in [from, to) (s since the epoch). */
export function expectedFirings(snapshotSeconds: Iterable<number>, from: number, to: number): number {
  let n = 0;
  // The first moment at or after `from` that is `sec` into an hour (windows are shorter than an hour).
  const within = (sec: number) => from + ((((sec - from) % 3600) + 3600) % 3600) < to;
  for (const s of snapshotSeconds) {
    if (within(s)) n++;
    if (within((s + 1800) % 3600)) n++;
  }
  return n;
}

/**
 * The fleet design's phases come from when a cluster was recorded: the batch's record times are
 * spread over the hour before `base` (cluster j of B at base + j*3600/B - 3600), so its moments
 * have the same spread as the per-cluster design's first firings. Returns each cluster's second
 * within the hour.
 */
export async function spreadRecordedTimes(db: SqlExecutor, from: number, to: number, base: number): Promise<Map<number, number>> {
  const phases = new Map<number, number>();
  const size = to - from;
  const indexes = Array.from({ length: size }, (_, j) => from + j);
  await inPool(indexes, 8, async (i) => {
    const at = simFirstSnapshot(base, i - from, size) - FLEETSIM_INTERVAL_SECONDS;
    await db.query('UPDATE clusters SET created_at = to_timestamp($2) WHERE resource_id = $1', [simResourceKey(i), at]);
    phases.set(i, ((at % FLEETSIM_INTERVAL_SECONDS) + FLEETSIM_INTERVAL_SECONDS) % FLEETSIM_INTERVAL_SECONDS);
  });
  return phases;
}

/** Deletes the per-cluster schedules of clusters [0, to). */
export async function deletePerClusterSchedules(o: { client: ScheduleClient; to: number; concurrency: number }): Promise<void> {
  const indexes = Array.from({ length: o.to }, (_, i) => i);
  await inPool(indexes, o.concurrency, async (i) => {
    await deleteSchedule(o.client, snapshotScheduleId(simResourceKey(i)));
    await deleteSchedule(o.client, certificateScheduleId(simResourceKey(i)));
  });
}

/** Removes every simulated cluster and what its firings recorded (operations, snapshots, secrets). */
export async function forgetSimClusters(db: SqlExecutor): Promise<void> {
  const like = `%${FLEETSIM_SUBSCRIPTION}%`;
  await db.query('DELETE FROM snapshots WHERE resource_id LIKE $1', [like]);
  await db.query('DELETE FROM operations WHERE resource_id LIKE $1', [like]);
  await db.query('DELETE FROM cluster_secrets WHERE scope LIKE $1', [like]);
  await db.query('DELETE FROM clusters WHERE subscription_id = $1', [FLEETSIM_SUBSCRIPTION]);
}

/** What the simulated clusters' firings recorded: operations by kind and status, snapshots by state. */
export async function simWorkSummary(db: SqlExecutor): Promise<string> {
  const like = `%${FLEETSIM_SUBSCRIPTION}%`;
  const ops = await db.query<{ kind: string; status: string; n: string }>(
    'SELECT kind, status, count(*) AS n FROM operations WHERE resource_id LIKE $1 GROUP BY kind, status ORDER BY kind, status',
    [like],
  );
  const snaps = await db.query<{ state: string; n: string }>(
    'SELECT state, count(*) AS n FROM snapshots WHERE resource_id LIKE $1 GROUP BY state ORDER BY state',
    [like],
  );
  const list = (rows: Array<{ n: string } & Record<string, string>>, k: (r: Record<string, string>) => string) =>
    rows.map((r) => `${k(r)} ${r.n}`).join(', ') || 'none';
  return `operations: ${list(ops.rows, (r) => `${r.kind} ${r.status}`)}; snapshots: ${list(snaps.rows, (r) => r.state!)}`;
}
