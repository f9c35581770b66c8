// The READMEs name files and folders as facts ("the stream format is in lib/segmented-aes-gcm.ts");
// a rename that leaves one behind makes the README lie. Every repository path a README puts in
// backticks must exist.
import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const TOP = [
  'apps',
  'activities',
  'workflows',
  'contract',
  'domain',
  'store',
  'lib',
  'devstack',
  'scripts',
  'test',
  'bench',
  'terraform',
  'proto',
  'gen',
  'tools',
  'nomad',
  'docs',
  'observability',
];
const PATH = new RegExp(`^(?:${TOP.join('|')})/[\\w./-]*$`);

export function namedPaths(markdown: string): string[] {
  const found = new Set<string>();
  for (const m of markdown.matchAll(/`([^`\n]+)`/g)) {
    const token = m[1]!.trim();
    if (PATH.test(token)) found.add(token.replace(/[.,:;]+$/, ''));
  }
  // The diagram names modules without backticks.
  for (const block of markdown.matchAll(/```mermaid\n([\s\S]*?)```/g)) {
    for (const m of block[1]!.matchAll(new RegExp(`(?:^|[\\s(:])((?:${TOP.join('|')})/[\\w./-]*[\\w/])`, 'gm'))) found.add(m[1]!);
  }
  return [...found];
}

for (const readme of ['README.md', 'test/README.md', 'nomad/README.md', 'docs/runbooks/README.md']) {
  it(`every path ${readme} names exists`, () => {
    const paths = namedPaths(readFileSync(readme, 'utf8'));
    expect(paths.length).toBeGreaterThan(readme === 'README.md' ? 30 : 1);
    expect(paths.filter((p) => !existsSync(p))).toEqual([]);
  });
}

it('finds a path that does not exist (the check can fail)', () => {
  const paths = namedPaths(
    'see `activities/lifecycle.ts` and `.../operationResults/{id}` and `hcs/`\n```mermaid\n  A->>B: workflows/gone.ts runs (store/clusters.ts)\n```\n',
  );
  expect(paths).toEqual(['activities/lifecycle.ts', 'workflows/gone.ts', 'store/clusters.ts']);
  expect(paths.filter((p) => !existsSync(p))).toEqual(['activities/lifecycle.ts', 'workflows/gone.ts']);
});
