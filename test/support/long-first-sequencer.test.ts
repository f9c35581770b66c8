// The start order of test files: files that build clusters first, vitest's own order otherwise.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { TestSpecification, Vitest } from 'vitest/node';
import { buildsClusters, LongFirstSequencer } from './long-first-sequencer.js';

const root = join(import.meta.dirname, '..', '..');

it('recognises a file that starts the control plane or creates a cluster', () => {
  expect(buildsClusters('const cp = useControlPlane(stack, () => ({}));')).toBe(true);
  expect(buildsClusters('await createCluster(cp, id, body);')).toBe(true);
  expect(buildsClusters("it('parses a window', () => expect(parse('x')).toBe(1));")).toBe(false);
});

it('starts the files that build clusters first and keeps the order within each group', async () => {
  // vitest's context as the base order reads it: no cache of earlier runs, no file sizes.
  const ctx = {
    config: { root },
    cache: { getFileTestResults: () => undefined, getFileStats: () => undefined },
  } as unknown as Vitest;
  const project = { name: '', config: { sequence: { groupOrder: 0 }, isolate: true } };
  const files = [
    'domain/certificate-schedule.test.ts',
    'test/lifecycle/upgrade.test.ts',
    'lib/tracing-settings.test.ts',
    'test/lifecycle/certificates.test.ts',
  ].map((f) => ({ moduleId: join(root, f), project }) as unknown as TestSpecification);
  const sorted = await new LongFirstSequencer(ctx).sort(files);
  expect(sorted.map((f) => f.moduleId.slice(root.length + 1))).toEqual([
    'test/lifecycle/upgrade.test.ts',
    'test/lifecycle/certificates.test.ts',
    'domain/certificate-schedule.test.ts',
    'lib/tracing-settings.test.ts',
  ]);
});
