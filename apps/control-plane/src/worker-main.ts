// The worker process (production: one per Nomad allocation). It reads only the settings the
// worker uses (config.ts) and loads no API code.
import { readWorkerConfig } from './config.js';
import { runWorker } from './worker.js';

await runWorker(readWorkerConfig());
