// The worker process (production: one per Nomad allocation).
import { pino } from 'pino';
import { readConfig } from '../../api/src/config.js';
import { openDatabase } from '../../../store/database.js';
import { AesGcmPayloadCodec } from './payload-codec.js';
import { startWorker } from './worker.js';

const config = readConfig();
const logger = pino({ level: config.logLevel });
const db = await openDatabase(config.database);
const worker = await startWorker({ temporal: config.temporal, db, payloadCodec: new AesGcmPayloadCodec(config.payloadKeys) });
logger.info({ taskQueue: 'hcs-control-plane' }, 'worker started');
await worker.done;
await db.close();
