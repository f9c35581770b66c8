// Wiring of the worker from its configuration: the store, the payload codec and, where the
// worker builds clusters, the lifecycle's dependencies. Used by the worker's own process and by
// the embedded process that runs API and worker together.
import { pino } from 'pino';
import type { PayloadCodec } from '@temporalio/common';
import { startWorker, type RunningWorker } from '../../worker/src/worker.js';
import { buildLifecycleDeps } from '../../worker/src/lifecycle-config.js';
import { AesGcmPayloadCodec } from '../../../lib/payload-codec.js';
import { deriveSealingKeys, SecretBox } from '../../../lib/secret-box.js';
import { openDatabase, type SqlDatabase } from '../../../store/database.js';
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
  const logger = pino({ level: config.logLevel });
  const db = await openDatabase(config.database);
  const worker = await startConfiguredWorker(config, {
    db,
    payloadCodec: new AesGcmPayloadCodec(config.payloadKeys),
    sealer: new SecretBox(deriveSealingKeys(config.payloadKeys)),
  });
  logger.info({ taskQueue: config.taskQueue }, 'worker started');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void worker.shutdown());
  await worker.done;
  await db.close();
}
