// The Temporal worker: builds the real clients once and registers workflows and activities.
import type { PayloadCodec } from '@temporalio/common';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type State } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { createClusterActivities } from '../../../activities/cluster-activities.js';
import { createSnapshotActivities, type SnapshotDeps } from '../../../activities/snapshots.js';
import { createStoreActivities } from '../../../activities/store.js';
import { createDeleteQueueActivities } from '../../../activities/delete-queue.js';
import type { SqlDatabase } from '../../../store/database.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import {
  CONTROL_PLANE_TASK_QUEUE,
  FLEET_UPGRADE_SCHEDULE,
  FLEET_UPGRADE_WORKFLOW,
  SEARCH_ATTRIBUTE,
  SERVER_HEALTH_WORKFLOW,
  SERVER_HEALTH_WORKFLOW_ID,
} from '../../../contract/temporal.js';
import { createServerHealthActivities } from '../../../activities/server-health.js';
import { secretReader } from '../../../activities/secrets.js';
import { createFleetActivities } from '../../../activities/fleet.js';
import { workflowStarter } from '../../../lib/operation-starter.js';
import { startOperationRelay, type OperationRelay } from '../../../lib/operation-relay.js';
import type { Logger } from 'pino';
import { workerTracingOptions, workflowClientInterceptors } from '../../../lib/temporal-tracing.js';
import { withCorrelationInterceptors } from './correlation.js';
import { livenessHeartbeatInterceptor } from '../../../activities/polling.js';
import { failureBackoffInterceptor } from '../../../activities/retry-delay.js';
import { upsertIntervalSchedule } from '../../../activities/schedules.js';
import { createFleetSafetyActivities, ensureFleetSafetySchedule } from '../../../activities/fleet-safety.js';
import { certificateCheckInterval } from '../../../domain/certificate-schedule.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import { createMeteringActivities, ensureMeteringSchedule } from '../../../activities/metering.js';
import type { MeteringApi } from '../../../activities/metering-client.js';

export interface WorkerOptions {
  temporal: TemporalConnectionConfig;
  db: SqlDatabase;
  /** Encrypts every payload the worker hands to Temporal; the API's client uses the same. */
  payloadCodec: PayloadCodec;
  taskQueue?: string;
  /** What the lifecycle and snapshot activities need; without it only the store activities (and the stand-in) work. */
  lifecycle?: SnapshotDeps;
  /** Parallel activities (default 20; Terraform runs are the heavy ones). */
  maxConcurrentActivityTaskExecutions?: number;
  /** The Consul version catalogue (automatic patch upgrades pick their targets from it). */
  catalogue?: CatalogueEntry[];
  /** Run the fleet's automatic patch upgrades this often (the control plane's own schedule); off when absent. */
  fleetUpgradeIntervalSeconds?: number;
  /**
   * The fleet design of the safety schedules (activities/fleet-safety.ts): one schedule fires
   * every this many seconds and starts the snapshot and certificate firings due, instead of a
   * Temporal schedule per cluster and task. Absent: per-cluster schedules.
   */
  fleetSafetySlotSeconds?: number;
  /**
   * The servers' health check (workflows/server-health.ts): one workflow per task queue checks
   * every cluster's servers every `everySeconds` and repairs a server down for
   * `repairAfterSeconds`. Off when absent.
   */
  serverHealth?: {
    everySeconds: number;
    repairAfterSeconds: number;
    /** Only this subscription's clusters (tests). */
    subscriptionId?: string;
  };
  /**
   * Run a start relay (lib/operation-relay.ts) for the task queue: it starts the production
   * workflow types, so only where the API does too (the worker process; the embedded process's
   * API runs its own). Off when absent.
   */
  operationRelay?: { log?: Pick<Logger, 'info' | 'warn'> };
  /**
   * Marketplace metering (activities/metering.ts): the API client, the schedule's interval
   * (0: no schedule, firings started by hand) and the batches in flight at once. Off when absent.
   */
  metering?: { api: MeteringApi; intervalSeconds: number; concurrency?: number };
}

export interface RunningWorker {
  /** Resolves when the worker has shut down. */
  done: Promise<void>;
  shutdown(): Promise<void>;
  /** The Temporal Worker's state: RUNNING while it polls its task queue (readiness). */
  state(): State;
  /** Resolves when Temporal's frontend answers its health check on the worker's connection within `timeoutMs`. */
  pingTemporal(timeoutMs: number): Promise<void>;
}

/** grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING: @temporalio/proto's namespace has no named ESM export under plain Node. */
const SERVING = 1;

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  // What earlier runs left behind (Terraform folders of a killed worker) goes before any activity runs.
  o.lifecycle?.terraform.sweepWorkRoot();
  const connection = await NativeConnection.connect(temporalConnectOptions(o.temporal));
  const taskQueue = o.taskQueue ?? CONTROL_PLANE_TASK_QUEUE;
  // Activities that manage Temporal schedules (per-cluster snapshots, certificate rotation) use a client.
  // The start relay uses one too.
  const clientConnection =
    o.lifecycle || o.operationRelay || o.metering?.intervalSeconds
      ? await Connection.connect(temporalConnectOptions(o.temporal))
      : undefined;
  const client = clientConnection
    ? new Client({
        connection: clientConnection,
        namespace: o.temporal.namespace,
        dataConverter: { payloadCodecs: [o.payloadCodec] },
        interceptors: workflowClientInterceptors(),
      })
    : undefined;
  // Schedules and the fleet's upgrades only where the worker builds clusters.
  const lifecycleClient = o.lifecycle ? client : undefined;
  const schedules = lifecycleClient
    ? { client: lifecycleClient.schedule, taskQueue, ...(o.fleetSafetySlotSeconds ? { fleetSlotSeconds: o.fleetSafetySlotSeconds } : {}) }
    : undefined;
  if (lifecycleClient && o.fleetSafetySlotSeconds)
    await ensureFleetSafetySchedule(lifecycleClient.schedule, { taskQueue, slotSeconds: o.fleetSafetySlotSeconds });
  // Operations the worker begins (the fleet's upgrades) start their workflows through the one starter.
  const starter = lifecycleClient ? workflowStarter(lifecycleClient.workflow, { taskQueue }) : undefined;
  if (lifecycleClient && o.fleetUpgradeIntervalSeconds) {
    await upsertIntervalSchedule(lifecycleClient.schedule, {
      scheduleId: `${FLEET_UPGRADE_SCHEDULE}/${taskQueue}`,
      intervalSeconds: o.fleetUpgradeIntervalSeconds,
      workflowType: FLEET_UPGRADE_WORKFLOW,
      args: [{}],
      taskQueue,
      note: `automatic patch upgrades every ${o.fleetUpgradeIntervalSeconds} s`,
      searchAttributes: [{ key: SEARCH_ATTRIBUTE.operation, value: 'upgrade' }],
    });
  }
  if (client && o.metering?.intervalSeconds)
    await ensureMeteringSchedule(client.schedule, { taskQueue, intervalSeconds: o.metering.intervalSeconds });
  const tracing = workerTracingOptions();
  const worker = await Worker.create({
    connection,
    namespace: o.temporal.namespace,
    taskQueue,
    dataConverter: { payloadCodecs: [o.payloadCodec] },
    // workflows/index.ts in the source tree (tsx), index.js in the build (dist/): the same extension as this module.
    workflowsPath: fileURLToPath(
      new URL(`../../../workflows/index${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url),
    ),
    activities: {
      ...createStoreActivities({ db: o.db }),
      ...createDeleteQueueActivities({ db: o.db, ...(starter ? { workflows: starter } : {}) }),
      ...(o.lifecycle ? createClusterActivities({ ...o.lifecycle, ...(schedules ? { schedules } : {}) }) : {}),
      ...(o.lifecycle
        ? createSnapshotActivities({
            ...o.lifecycle,
            publicEndpoints: { names: o.lifecycle.names, dnsZone: o.lifecycle.dnsZone, acme: o.lifecycle.acme },
            ...(schedules ? { schedules } : {}),
          })
        : {}),
      ...(starter ? createFleetActivities({ db: o.db, catalogue: o.catalogue ?? [], starter }) : {}),
      ...(starter && o.lifecycle && o.serverHealth
        ? createServerHealthActivities({
            db: o.db,
            starter,
            consulAdmin: o.lifecycle.consulAdmin,
            pki: o.lifecycle.pki,
            secrets: secretReader({ db: o.db, cipher: o.lifecycle.pki }),
          })
        : {}),
      ...(lifecycleClient && o.lifecycle && o.fleetSafetySlotSeconds
        ? createFleetSafetyActivities({
            db: o.db,
            workflows: lifecycleClient.workflow,
            taskQueue,
            certificateIntervalSeconds: certificateCheckInterval(o.lifecycle.serverCertTtlHours),
            ...(o.lifecycle.snapshotIntervalOverrideSeconds
              ? { snapshotIntervalOverrideSeconds: o.lifecycle.snapshotIntervalOverrideSeconds }
              : {}),
          })
        : {}),
      ...(o.metering
        ? createMeteringActivities({
            db: o.db,
            api: o.metering.api,
            ...(o.metering.concurrency ? { concurrency: o.metering.concurrency } : {}),
          })
        : {}),
    },
    maxConcurrentActivityTaskExecutions: o.maxConcurrentActivityTaskExecutions ?? 20,
    // The correlation id on every activity's log lines (correlation.ts); when this process traces
    // (lib/tracing.ts), workflow and activity spans in the caller's trace.
    // Every activity task heartbeats while it runs (activities/polling.ts), so one lost with a
    // worker runs again a second after its heartbeat timeout; a heartbeating activity's own
    // failures wait their exponential backoff (activities/retry-delay.ts).
    ...withCorrelationInterceptors({
      ...tracing,
      interceptors: {
        ...tracing.interceptors,
        activity: [...(tracing.interceptors?.activity ?? []), livenessHeartbeatInterceptor, failureBackoffInterceptor],
      },
    }),
  });
  // The health check runs as one long-lived workflow per task queue; a worker that finds it
  // running leaves it be.
  if (lifecycleClient && o.serverHealth)
    await lifecycleClient.workflow.start(SERVER_HEALTH_WORKFLOW, {
      taskQueue,
      workflowId: `${SERVER_HEALTH_WORKFLOW_ID}/${taskQueue}`,
      workflowIdConflictPolicy: 'USE_EXISTING',
      args: [
        {
          everySeconds: o.serverHealth.everySeconds,
          repairAfterSeconds: o.serverHealth.repairAfterSeconds,
          ...(o.serverHealth.subscriptionId ? { subscriptionId: o.serverHealth.subscriptionId } : {}),
        },
      ],
    });
  const relay: OperationRelay | undefined =
    client && o.operationRelay
      ? startOperationRelay({ db: o.db, starter: workflowStarter(client.workflow, { taskQueue }), taskQueue, ...o.operationRelay })
      : undefined;
  const done = worker.run().finally(async () => {
    await relay?.stop();
    await connection.close();
    await clientConnection?.close();
  });
  return {
    done,
    async shutdown() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
    state: () => worker.getState(),
    async pingTemporal(timeoutMs) {
      const { status } = await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}));
      if (Number(status) !== SERVING)
        throw Object.assign(new Error('Temporal answers its health check as not serving'), { code: 'NOT_SERVING' });
    },
  };
}
