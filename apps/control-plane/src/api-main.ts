// The API process (production: behind ARM, one per Nomad allocation). Tracing starts first, so
// its instrumentations patch HTTP, gRPC and pg as the rest of the process loads.
import { startTracing } from '../../../lib/tracing.js';
import { readTracingSettings } from '../../../lib/tracing-settings.js';

startTracing('hcs-api', readTracingSettings());
const { readConfig } = await import('./api-config.js');
const { runControlPlane } = await import('./run.js');
await runControlPlane(readConfig(), { worker: false });
