// Wiring of the worker from its configuration: the store, the payload codec and, where the
// worker builds clusters, the lifecycle's dependencies. Used by the worker's own process and by
// the embedded process that runs API and worker together.
import type { Logger } from 'pino';
import { createLogger, parseLogLevel } from '../../../lib/logger.js';
import { activeTracing } from '../../../lib/tracing.js';
import { PinoTemporalLogger } from '../../../lib/temporal-logger.js';
import type { PayloadCodec } from '@temporalio/common';
import { startWorker, type RunningWorker } from '../../worker/src/worker.js';
import { buildLifecycleDeps } from '../../worker/src/lifecycle-config.js';
import { buildMeteringApi } from '../../worker/src/metering-config.js';
import { AesGcmPayloadCodec } from '../../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../../lib/secret-box.js';
import { openDatabase, type SqlDatabase } from '../../../store/database.js';
import { installTemporalRuntime, temporalMetricsAddress } from '../../../lib/temporal-runtime.js';
import { freeLoopbackPort, startOpsServer, type RunningOpsServer } from '../../worker/src/ops-server.js';
import type { WorkerProcessConfig } from './config.js';

/**
 * Starts the worker on an open store with the process's codec and secret sealer; with a start
 * relay (lib/operation-relay.ts) when `relayLog` is given (the worker process; the embedded
 * process's API runs its own).
 */
export function startConfiguredWorker(
  config: WorkerProcessConfig,
  o: { db: SqlDatabase; payloadCodec: PayloadCodec; sealer: SecretBox; relayLog?: Logger },
): Promise<RunningWorker> {
  return startWorker({
    temporal: config.temporal,
    taskQueue: config.taskQueue,
    catalogue: config.catalogue,
    ...(config.fleetUpgradeIntervalSeconds ? { fleetUpgradeIntervalSeconds: config.fleetUpgradeIntervalSeconds } : {}),
    ...(config.safetyFiringSlotSeconds ? { fleetSafetySlotSeconds: config.safetyFiringSlotSeconds } : {}),
    ...(config.serverHealth.everySeconds ? { serverHealth: config.serverHealth } : {}),
    db: o.db,
    payloadCodec: o.payloadCodec,
    ...(config.lifecycle ? { lifecycle: buildLifecycleDeps(config.lifecycle, { db: o.db, sealer: o.sealer }) } : {}),
    ...(o.relayLog ? { operationRelay: { log: o.relayLog } } : {}),
    ...(config.metering
      ? {
          metering: {
            api: buildMeteringApi(config.metering),
            intervalSeconds: config.metering.intervalSeconds,
            concurrency: config.metering.concurrency,
          },
        }
      : {}),
  });
}

/**
 * Installs the process's Temporal runtime for a worker: the SDK's own lines (and the Rust core's)
 * through the JSON logger at HCS_LOG_LEVEL and, with an ops server, the SDK's metrics on a loopback
 * port of their own, served through the ops server's /metrics (one scrape target per worker).
 */
export async function installWorkerRuntime(config: WorkerProcessConfig, logger: Logger): Promise<void> {
  installTemporalRuntime({
    logger: new PinoTemporalLogger(logger),
    ...(config.ops ? { metricsBindAddress: `127.0.0.1:${await freeLoopbackPort()}` } : {}),
  });
}

/** The worker's ops server (/metrics, /healthz, /readyz) when the configuration asks for one. */
export async function startConfiguredOps(
  config: WorkerProcessConfig,
  o: { logger: Logger; db: SqlDatabase; worker: RunningWorker },
): Promise<RunningOpsServer | undefined> {
  if (!config.ops) return undefined;
  const metricsAddress = temporalMetricsAddress();
  return startOpsServer({
    ...config.ops,
    db: o.db,
    worker: o.worker,
    ...(metricsAddress ? { temporalMetricsAddress: metricsAddress } : {}),
    onError: (what, err) => o.logger.warn({ err, what }, 'ops server: a check or metrics source failed'),
  });
}

/** The worker process: runs until SIGTERM or SIGINT, then finishes what runs (or hands it back to Temporal). */
export async function runWorker(config: WorkerProcessConfig): Promise<void> {
  const logger = createLogger({ service: 'worker', level: parseLogLevel(config.logLevel) });
  await installWorkerRuntime(config, logger);
  const db = await openDatabase(config.database);
  const worker = await startConfiguredWorker(config, {
    db,
    payloadCodec: new AesGcmPayloadCodec(config.payloadKeys),
    sealer: new SecretBox(deriveSealingKeys(config.payloadKeys)),
    relayLog: logger,
  });
  const ops = await startConfiguredOps(config, { logger, db, worker });
  logger.info({ taskQueue: config.taskQueue, ...(ops ? { ops: ops.url } : {}) }, 'worker started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void worker.shutdown());
  await worker.done;
  await ops?.close();
  await db.close();
  // Spans still buffered are sent before the process ends.
  await activeTracing()?.shutdown();
}
