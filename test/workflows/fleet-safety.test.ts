// The fleet design of the safety schedules on the real Temporal server and store: a firing of the
// fleet schedule starts, under the per-cluster design's workflow ids, the snapshot firings and
// certificate checks due in its minute and no others (not a cluster due at another minute, not
// one being deleted); a second firing for the same minute starts nothing again; bad input is
// refused with a precise error and starts nothing; the schedule itself is made once.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import {
  createFleetSafetyActivities,
  ensureFleetSafetySchedule,
  fleetSafetyScheduleId,
  firingTime,
} from '../../activities/fleet-safety.js';
import { deleteSchedule } from '../../activities/schedules.js';
import { snapshotScheduleId } from '../../activities/snapshot-schedules.js';
import { certificateScheduleId } from '../../domain/certificate-schedule.js';
import { parseClusterBody } from '../../domain/cluster-spec.js';
import { upsertCluster } from '../../store/clusters.js';
import { openDatabase, type SqlDatabase } from '../../store/database.js';
import { migrate } from '../../store/migrate.js';
import { useTemporalClient, useWorkflowWorker } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const client = useTemporalClient(stack);
const taskQueue = `fleet-safety-${randomUUID()}`;
const subscriptionId = randomUUID();
let db: SqlDatabase;
// A slot on a minute boundary; the clusters' moments are placed relative to it.
const slot = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3 * 3_600_000 + 17 * 60_000;
const key = (name: string) => `/subscriptions/${subscriptionId}/resourcegroups/rg-fleet/providers/hcs.consul/clusters/${name}`;

async function record(name: string, createdAtMs: number, provisioningState = 'Succeeded'): Promise<string> {
  const spec = parseClusterBody(
    { location: 'westeurope', properties: { consulVersion: '1.22.7', serverCount: 1, network: { cidr: '10.9.0.0/16' } } },
    { knownConsulVersions: ['1.22.7'], existingCidrsInSubscription: [] },
  );
  const k = key(name);
  await upsertCluster(db, {
    resourceKey: k,
    id: k,
    subscriptionId,
    resourceGroup: 'rg-fleet',
    name,
    spec,
    provisioningState,
    etag: '"1"',
    systemData: null,
  });
  await db.query('UPDATE clusters SET created_at = to_timestamp($2 / 1000.0) WHERE resource_id = $1', [k, createdAtMs]);
  return k;
}

const fired: string[] = [];
// The firings' workflows run with fakes of our own activities: each says what it was started for.
useWorkflowWorker(stack, taskQueue, () => ({
  // The store opens in a later beforeAll: reach it through a late-bound executor.
  ...createFleetSafetyActivities({
    db: { query: (sql, params) => db.query(sql, params) },
    workflows: client.workflow,
    taskQueue,
    certificateIntervalSeconds: 3600,
  }),
  beginScheduledSnapshot: async (a: { resourceKey: string }) => {
    fired.push(`snapshot ${a.resourceKey}`);
    return { started: false, reason: 'test' };
  },
  beginCertificateRotation: async (a: { resourceKey: string }) => {
    fired.push(`certificate ${a.resourceKey}`);
    return { started: false, reason: 'test' };
  },
}));

beforeAll(async () => {
  db = await openDatabase(stack.database);
  await migrate(db);
});
afterAll(async () => {
  await db.query('DELETE FROM clusters WHERE subscription_id = $1', [subscriptionId]);
  await db.close();
});

it('starts the firings due in its minute under the per-cluster ids, once', async () => {
  // Recorded 10 h 30 s before the slot: its hourly snapshot comes 30 s into the slot.
  const snap = await record('due-snapshot', slot - 10 * 3_600_000 + 30_000);
  // Its certificate check (half an hour after its snapshots) comes 59 s into the slot.
  const cert = await record('due-certificate', slot - 5 * 3_600_000 - 1_800_000 + 59_000);
  // Moments a minute after the slot, and a cluster being deleted that would be due.
  await record('not-due', slot - 3_600_000 + 60_000);
  await record('deleting', slot - 3_600_000, 'Deleting');
  const run = (n: number) =>
    client.workflow.execute('fleetSafetyFiring', {
      taskQueue,
      workflowId: `fleet-test/${randomUUID()}/run${n}-${firingTime(slot)}`,
      args: [{ slotSeconds: 60, subscriptionId }],
    });
  expect(await run(1)).toEqual({ due: 2, started: 2, alreadyStarted: 0 });
  const at = firingTime(slot);
  const ids = [`${snapshotScheduleId(snap)}/scheduled-${at}`, `${certificateScheduleId(cert)}/scheduled-${at}`];
  for (const id of ids) await client.workflow.getHandle(id).result();
  expect(fired.sort()).toEqual([`certificate ${cert}`, `snapshot ${snap}`]);
  // The same minute again (a retried or buffered firing): nothing new.
  expect(await run(2)).toEqual({ due: 2, started: 0, alreadyStarted: 2 });
});

it('refuses a firing without a usable slot and starts nothing', async () => {
  const activities = createFleetSafetyActivities({ db, workflows: client.workflow, taskQueue, certificateIntervalSeconds: 3600 });
  const startDueFirings = (a: Parameters<typeof activities.startDueFirings>[0]) => activities.startDueFirings(a);
  await expect(startDueFirings({ slotStart: 'yesterday', slotSeconds: 60, subscriptionId })).rejects.toThrow(
    /needs an RFC 3339 slotStart and whole slotSeconds >= 1 \(got yesterday, 60\)/,
  );
  await expect(startDueFirings({ slotStart: firingTime(slot), slotSeconds: 0, subscriptionId })).rejects.toThrow(/got .*, 0\)/);
});

it('makes the fleet schedule once and refuses a slot that does not divide the hour', async () => {
  const queue = `fleet-safety-schedule-${randomUUID()}`;
  await expect(ensureFleetSafetySchedule(client.schedule, { taskQueue: queue, slotSeconds: 7 })).rejects.toThrow(
    /slot must be whole seconds that divide an hour \(got 7\)/,
  );
  await expect(client.schedule.getHandle(fleetSafetyScheduleId(queue)).describe()).rejects.toThrow();
  try {
    expect(await ensureFleetSafetySchedule(client.schedule, { taskQueue: queue, slotSeconds: 60 })).toBe('created');
    expect(await ensureFleetSafetySchedule(client.schedule, { taskQueue: queue, slotSeconds: 60 })).toBe('unchanged');
    const d = await client.schedule.getHandle(fleetSafetyScheduleId(queue)).describe();
    expect(d.policies.overlap).toBe('BUFFER_ALL');
    expect(d.spec.intervals?.[0]?.every).toBe(60_000);
  } finally {
    await deleteSchedule(client.schedule, fleetSafetyScheduleId(queue));
  }
});
