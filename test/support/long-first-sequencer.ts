// The order vitest starts test files in. With two workers the run ends when the last file does,
// so the files that build real clusters (minutes each) start first and the many short files fill
// in around them; otherwise a long file that happens to start last keeps one worker busy alone.
// A file counts as long when it starts the control plane or creates a cluster. Within each group
// vitest's own order holds: failed first, then longest by its cache of earlier runs, else larger
// files first.
import { readFileSync } from 'node:fs';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const BUILDS_CLUSTERS = /\b(useControlPlane|createCluster)\(/;

export function buildsClusters(source: string): boolean {
  return BUILDS_CLUSTERS.test(source);
}

export class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const ordered = await super.sort(files);
    const long = new Set(ordered.filter((f) => buildsClusters(readFileSync(f.moduleId, 'utf8'))));
    // Array.prototype.sort is stable: vitest's order holds within each group.
    return ordered.sort((a, b) => Number(long.has(b)) - Number(long.has(a)));
  }
}
