// The local control plane in one process: API and worker sharing one store connection (an
// embedded PGlite database cannot be opened by two processes). Production runs
// apps/api/src/main.ts and apps/worker/src/main.ts separately.
import { readConfig } from '../apps/api/src/config.js';
import { runControlPlane } from '../apps/api/src/run.js';

await runControlPlane(readConfig(), { worker: true });
