// The worker process (production: one per Nomad allocation). It reads only the settings the
// worker uses (config.ts) and loads no API code. Tracing starts first, so its instrumentations
// patch HTTP, gRPC and pg as the rest of the process loads.
import { startTracing } from '../../../lib/tracing.js';
import { readTracingSettings } from '../../../lib/tracing-settings.js';

startTracing('hcs-worker', readTracingSettings());
const { readWorkerConfig } = await import('./config.js');
const { runWorker } = await import('./worker.js');
await runWorker(readWorkerConfig());
