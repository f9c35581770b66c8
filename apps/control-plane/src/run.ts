// Runs the API process from its configuration: the API alone (production), or API and worker
// together (the local embedded default, where one process owns the database).
import { createLogger, parseLogLevel } from '../../../lib/logger.js';
import { activeTracing } from '../../../lib/tracing.js';
import { AesGcmPayloadCodec } from '../../../lib/payload-codec.js';
import type { RunningWorker } from '../../worker/src/worker.js';
import { deriveSealingKeys, SecretBox } from '../../../lib/secret-box.js';
import { openDatabase } from '../../../store/database.js';
import { migrate } from '../../../store/migrate.js';
import { startApi } from '../../api/src/api.js';
import { temporalOperationStarter } from '../../../lib/operation-starter.js';
import type { ControlPlaneConfig } from './api-config.js';
import { installWorkerRuntime, startConfiguredOps, startConfiguredWorker } from './worker.js';

/** Starts what is asked for and stops it all, in order, on SIGTERM or SIGINT. */
export async function runControlPlane(config: ControlPlaneConfig, parts: { worker: boolean }): Promise<void> {
  const logger = createLogger({ service: parts.worker ? 'control-plane' : 'api', level: parseLogLevel(config.logLevel) });
  // The embedded worker's SDK lines go through the same logger (before any worker exists).
  if (parts.worker) await installWorkerRuntime(config, logger);
  const db = await openDatabase(config.database);
  await migrate(db);
  const payloadCodec = new AesGcmPayloadCodec(config.payloadKeys);
  let worker: RunningWorker | undefined;
  const sealer = new SecretBox(deriveSealingKeys(config.payloadKeys));
  if (parts.worker) worker = await startConfiguredWorker(config, { db, payloadCodec, sealer });
  const ops = worker ? await startConfiguredOps(config, { logger, db, worker }) : undefined;
  const starter = await temporalOperationStarter({ temporal: config.temporal, taskQueue: config.taskQueue, payloadCodec });
  const api = await startApi({
    db,
    starter,
    payloadCodec,
    codecCorsOrigins: config.api.codecCorsOrigins,
    sealer,
    auth: config.auth,
    catalogue: config.catalogue,
    logger,
    host: config.api.host,
    restPort: config.api.restPort,
    grpcPort: config.api.grpcPort,
    ...(config.api.tls ? { tls: config.api.tls } : {}),
    limits: config.limits,
    rateLimit: config.rateLimit,
    auditRetentionDays: config.auditRetentionDays,
  });
  logger.info(
    { rest: api.restUrl, grpc: api.grpcAddress, worker: parts.worker, ...(ops ? { ops: ops.url } : {}) },
    'control plane started',
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await api.close();
    await starter.close();
    await worker?.shutdown();
    await ops?.close();
    await db.close();
    // Spans still buffered are sent before the process ends.
    await activeTracing()?.shutdown();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}
