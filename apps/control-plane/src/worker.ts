// Wiring of the worker from its configuration: the store, the payload codec and, where the
// worker builds clusters, the lifecycle's dependencies. Used by the worker's own process and by
// the embedded process that runs API and worker together.
import { createLogger, parseLogLevel } from '../../../lib/logger.js';
import { PinoTemporalLogger } from '../../../lib/temporal-logger.js';
import type { PayloadCodec } from '@temporalio/common';
import { startWorker, type RunningWorker } from '../../worker/src/worker.js';
import { buildLifecycleDeps } from '../../worker/src/lifecycle-config.js';
import { AesGcmPayloadCodec } from '../../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../../lib/secret-box.js';
import { openDatabase, type SqlDatabase } from '../../../store/database.js';
import { installTemporalRuntime, temporalMetricsAddress } from '../../../lib/temporal-runtime.js';
import { freeLoopbackPort, startOpsServer } from '../../worker/src/ops-server.js';
import type { WorkerProcessConfig } from './config.js';

/** Starts the worker on an open store with the process's codec and secret sealer. */
export function startConfiguredWorker(
  config: WorkerProcessConfig,
  o: { db: SqlDatabase; payloadCodec: PayloadCodec; sealer: SecretBox },
): Promise<RunningWorker> {
  return startWorker({
    temporal: config.temporal,
    taskQueue: config.taskQueue,
    catalogue: config.catalogue,
    ...(config.fleetUpgradeIntervalSeconds ? { fleetUpgradeIntervalSeconds: config.fleetUpgradeIntervalSeconds } : {}),
    db: o.db,
    payloadCodec: o.payloadCodec,
    ...(config.lifecycle ? { lifecycle: buildLifecycleDeps(config.lifecycle, { db: o.db, sealer: o.sealer }) } : {}),
  });
}

/** The worker process: runs until SIGTERM or SIGINT, then finishes what runs (or hands it back to Temporal). */
export async function runWorker(config: WorkerProcessConfig): Promise<void> {
  const logger = createLogger({ service: 'worker', level: parseLogLevel(config.logLevel) });
  // With an ops server, the Temporal SDK's metrics go to a loopback port of their own and are
  // served through the ops server's /metrics (one scrape target per worker).
  // The SDK's own lines (and the Rust core's) go through the same JSON logger, at HCS_LOG_LEVEL.
  installTemporalRuntime({
    logger: new PinoTemporalLogger(logger),
    ...(config.ops ? { metricsBindAddress: `127.0.0.1:${await freeLoopbackPort()}` } : {}),
  });
  const db = await openDatabase(config.database);
  const worker = await startConfiguredWorker(config, {
    db,
    payloadCodec: new AesGcmPayloadCodec(config.payloadKeys),
    sealer: new SecretBox(deriveSealingKeys(config.payloadKeys)),
  });
  const metricsAddress = temporalMetricsAddress();
  const ops = config.ops
    ? await startOpsServer({
        ...config.ops,
        db,
        worker,
        ...(metricsAddress ? { temporalMetricsAddress: metricsAddress } : {}),
        onError: (what, err) => logger.warn({ err, what }, 'ops server: a check or metrics source failed'),
      })
    : undefined;
  logger.info({ taskQueue: config.taskQueue, ...(ops ? { ops: ops.url } : {}) }, 'worker started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void worker.shutdown());
  await worker.done;
  await ops?.close();
  await db.close();
}
