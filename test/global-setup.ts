// Starts the real service stack once per test run and hands its endpoints to every test file
// (inject('stack')). Everything is stopped afterwards, also when tests fail; the supervisor's
// watchdog stops it even if the test runner itself is killed.
import { mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startStack, type Stack, type StackEndpoints } from '../devstack/stack.js';
import { repoRoot } from '../scripts/toolchain.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackEndpoints;
  }
}

let stack: Stack | undefined;

export async function setup(project: TestProject): Promise<void> {
  const runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const root = join(repoRoot, '.test-data');
  mkdirSync(root, { recursive: true });
  // Logs of the last few runs stay for reading after a failure; older runs are removed, but
  // never one touched in the last hour (another test run on this machine may be using it).
  // Only test runs' folders (chaos and benchmark runs keep theirs, and may be running now).
  const runs = readdirSync(root).filter((d) => /^[a-z0-9]+$/.test(d));
  const recent = (d: string) => Date.now() - statSync(join(root, d)).mtimeMs < 3_600_000;
  for (const old of runs.sort().slice(0, -3)) if (!recent(old)) rmSync(join(root, old), { recursive: true, force: true });
  const dataDir = join(root, runId);
  mkdirSync(dataDir, { recursive: true });
  stack = await startStack({
    dataDir,
    persistent: false,
    database: { name: `hcs_test_${runId}`, prefer: 'auto' },
    // The twin's test-only fault API (its admin secret is the stack's own): the self-healing test breaks instances for good.
    faultInjection: true,
    onEvent: (m) => process.env.HCS_TEST_VERBOSE && console.error(`[stack] ${m}`),
  });
  // Test workers start after this and trust the local CAs (Azurite's HTTPS, the twin) the way
  // our processes do: through NODE_EXTRA_CA_CERTS, never by switching verification off.
  process.env.NODE_EXTRA_CA_CERTS = stack.endpoints.caBundleFile;
  project.provide('stack', stack.endpoints);
}

export async function teardown(): Promise<void> {
  if (!stack) return;
  await stack.stop();
}
