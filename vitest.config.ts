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
    // Three test processes: with two the machine's 2 cores were 59% busy (the end-to-end files
    // mostly wait on real services); with three 77%, and the run 26 min instead of 32.
    maxWorkers: 3,
    // Files that build clusters first (test/support/long-first-sequencer.ts).
    sequence: { sequencer: LongFirstSequencer },
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 60_000,
  },
});
