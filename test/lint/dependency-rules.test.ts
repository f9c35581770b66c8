// The dependency rules of `npm run lint` (.dependency-cruiser.cjs) really fire: depcruise with the
// project's own configuration on a small tree written here, laid out like ours, with one
// forbidden import of each kind beside an allowed one.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { repoRoot } from '../../scripts/toolchain.mjs';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'hcs-depcruise-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const files: Record<string, string> = {
  'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }),
  // Allowed: the composition root wires the API and the worker.
  'apps/control-plane/src/api-main.ts':
    "import { serve } from '../../api/src/server.js';\nimport { work } from '../../worker/src/worker.js';\nserve(work);\n",
  // Forbidden: the API imports the worker.
  'apps/api/src/server.ts': "import { work } from '../../worker/src/worker.js';\nexport const serve = (f: () => void) => f ?? work;\n",
  'apps/worker/src/worker.ts': 'export const work = () => {};\n',
  // Forbidden: a circle inside the local cloud, one side type-only.
  'apps/local-cloud/src/context.ts': "import type { Ops } from './operations.js';\nexport const str = (v: unknown): Ops => String(v);\n",
  'apps/local-cloud/src/operations.ts': "import { str } from './context.js';\nexport type Ops = string;\nexport const op = str(1);\n",
  // Forbidden: an activity imports a workflow, and the workflow imports the activity as a value.
  'activities/dns.ts': "import { upgrade } from '../workflows/upgrade.js';\nexport const records = () => upgrade;\n",
  'workflows/upgrade.ts': "import { records } from '../activities/dns.js';\nexport const upgrade = () => records;\n",
};

it('refuses the API importing the worker, an import circle, activities importing workflows and a value import in a workflow', async () => {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const depcruise = join(repoRoot, 'node_modules', '.bin', 'depcruise');
  const args = ['--config', join(repoRoot, '.dependency-cruiser.cjs'), '--output-type', 'json', 'apps', 'activities', 'workflows'];
  // The JSON report lists the violations (its exit code is 0; the default report's is their count).
  const { stdout } = await run(depcruise, args, { cwd: dir, timeout: 60_000 });
  const violations = (JSON.parse(stdout) as { summary: { violations: Array<{ rule: { name: string }; from: string; to: string }> } })
    .summary.violations;
  const found = violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`);
  expect(found).toEqual(
    expect.arrayContaining([
      'api-not-worker: apps/api/src/server.ts -> apps/worker/src/worker.ts',
      expect.stringMatching(/^no-circular: apps\/local-cloud\/src\/(context|operations)\.ts -> /),
      'activities-not-workflows: activities/dns.ts -> workflows/upgrade.ts',
      'workflows-deterministic-imports: workflows/upgrade.ts -> activities/dns.ts',
      expect.stringMatching(/^no-folder-cycle: (activities|workflows) -> (activities|workflows)$/),
    ]),
  );
  // The composition root's imports are allowed.
  expect(found.filter((f) => f.includes('apps/control-plane'))).toEqual([]);
});
