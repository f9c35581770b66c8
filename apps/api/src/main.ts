// The API process (production: behind ARM, one per Nomad allocation).
import { pino } from 'pino';
import { openDatabase } from '../../../store/database.js';
import { migrate } from '../../../store/migrate.js';
import { startApi } from './api.js';
import { readConfig } from './config.js';
import { temporalOperationStarter } from './operation-starter.js';

const config = readConfig();
const logger = pino({ level: config.logLevel, redact: ['req.headers.authorization'] });
const db = await openDatabase(config.database);
await migrate(db);
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
logger.info({ rest: api.restUrl, grpc: api.grpcAddress }, 'api started');
const stop = async () => {
  await api.close();
  await starter.close();
  await db.close();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
