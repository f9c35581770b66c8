// The worker process (production: one per Nomad allocation).
import { pino } from 'pino';
import { readConfig } from '../../api/src/config.js';
import { openDatabase } from '../../../store/database.js';
import { AesGcmPayloadCodec } from '../../../lib/payload-codec.js';
import { startWorker } from './worker.js';
import { buildLifecycleDeps } from './lifecycle-config.js';
import { deriveSealingKeys, SecretBox } from '../../../lib/secret-box.js';

const config = readConfig();
const logger = pino({ level: config.logLevel });
const db = await openDatabase(config.database);
const sealer = new SecretBox(deriveSealingKeys(config.payloadKeys));
const worker = await startWorker({
  temporal: config.temporal,
  taskQueue: config.taskQueue,
  catalogue: config.catalogue,
  ...(config.fleetUpgradeIntervalSeconds ? { fleetUpgradeIntervalSeconds: config.fleetUpgradeIntervalSeconds } : {}),
  db,
  payloadCodec: new AesGcmPayloadCodec(config.payloadKeys),
  ...(config.lifecycle ? { lifecycle: buildLifecycleDeps(config.lifecycle, { db, sealer }) } : {}),
});
logger.info({ taskQueue: config.taskQueue }, 'worker started');
// Finish what runs (or hand it back to Temporal) on a normal stop.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void worker.shutdown());
await worker.done;
await db.close();
