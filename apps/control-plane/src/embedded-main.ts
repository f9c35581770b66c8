// The local control plane in one process: API and worker sharing one store connection (an
// embedded PGlite database cannot be opened by two processes). Production runs api-main.ts and
// worker-main.ts separately.
import { readConfig } from './api-config.js';
import { runControlPlane } from './run.js';

await runControlPlane(readConfig(), { worker: true });
