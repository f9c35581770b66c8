// The API process (production: behind ARM, one per Nomad allocation).
import { readConfig } from './api-config.js';
import { runControlPlane } from './run.js';

await runControlPlane(readConfig(), { worker: false });
