import { defineConfig } from 'vitest/config';
import { LongFirstSequencer } from './test/support/long-first-sequencer.js';

export const testDataDir = '.test-data';

export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.data/**', '.test-data/**', 'bench/**'],
    // One real stack (Temporal, OpenBao, Pebble, Azurite, the store database) for the whole run.
    globalSetup: ['test/global-setup.ts'],
    // Forks, not threads: the Temporal worker's native core runs best in its own process.
    pool: 'forks',
    // Two test processes. Three made the run 26 min instead of 32 (77% CPU instead of 59%) in
    // one run; kept at two until three have passed several full runs.
    maxWorkers: 2,
    // Files that build clusters first (test/support/long-first-sequencer.ts).
    sequence: { sequencer: LongFirstSequencer },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
