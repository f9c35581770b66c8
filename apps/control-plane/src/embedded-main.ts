// The local control plane in one process: API and worker sharing one store connection (an
// embedded PGlite database cannot be opened by two processes). Production runs api-main.ts and
// worker-main.ts separately. Tracing starts first, so its instrumentations patch HTTP, gRPC and
// pg as the rest of the process loads.
import { startTracing } from '../../../lib/tracing.js';
import { readTracingSettings } from '../../../lib/tracing-settings.js';

startTracing('hcs-control-plane', readTracingSettings());
const { readConfig } = await import('./api-config.js');
const { runControlPlane } = await import('./run.js');
await runControlPlane(readConfig(), { worker: true });
