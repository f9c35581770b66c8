// The local control plane in one process: API and worker sharing one store connection (an
// embedded PGlite database cannot be opened by two processes). Production runs
// apps/api/src/main.ts and apps/worker/src/main.ts separately.
import { pino } from 'pino';
import { startApi } from '../apps/api/src/api.js';
import { readConfig } from '../apps/api/src/config.js';
import { temporalOperationStarter } from '../apps/api/src/operation-starter.js';
import { startWorker } from '../apps/worker/src/worker.js';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';

const config = readConfig();
const logger = pino({ level: config.logLevel });
const db = await openDatabase(config.database);
await migrate(db);
const worker = await startWorker({ temporal: config.temporal, db });
const starter = await temporalOperationStarter(config.temporal);
const api = await startApi({
  db,
  starter,
  auth: config.auth,
  catalogue: config.catalogue,
  logger,
  host: config.api.host,
  restPort: config.api.restPort,
  grpcPort: config.api.grpcPort,
  ...(config.api.tls ? { tls: config.api.tls } : {}),
});
logger.info({ rest: api.restUrl, grpc: api.grpcAddress }, 'control plane started');

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await api.close();
  await starter.close();
  await worker.shutdown();
  await db.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
