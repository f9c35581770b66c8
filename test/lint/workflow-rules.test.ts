// The lint rules that keep workflows deterministic really fire on workflow code.
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from '../../scripts/toolchain.mjs';

const eslint = new ESLint({ cwd: repoRoot });
const asWorkflow = async (code: string) => {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, 'workflows', 'stand-in.ts') });
  return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
};

it('refuses Node built-ins, value imports of activities, I/O globals and floating promises in workflows', async () => {
  const messages = await asWorkflow(
    [
      "import { readFileSync } from 'node:fs';",
      "import { createStoreActivities } from '../activities/store.js';",
      'export async function wf(): Promise<void> {',
      "  readFileSync('/etc/hosts');",
      '  createStoreActivities({ db: undefined as never });',
      "  await fetch('http://example.invalid');",
      '  Promise.resolve(1);',
      '}',
    ].join('\n'),
  );
  expect(messages).toEqual(
    expect.arrayContaining([
      expect.stringMatching(/^no-restricted-imports: .*node:fs.*no Node built-ins/),
      expect.stringMatching(/^no-restricted-imports: .*activities\/store\.js.*import type/),
      expect.stringMatching(/^no-restricted-globals: .*fetch/),
      expect.stringMatching(/^@typescript-eslint\/no-floating-promises/),
    ]),
  );
});

it('accepts type-only imports of activities', async () => {
  const messages = await asWorkflow(
    [
      "import { proxyActivities } from '@temporalio/workflow';",
      "import type { StoreActivities } from '../activities/store.js';",
      "const store = proxyActivities<StoreActivities>({ startToCloseTimeout: '1 minute' });",
      'export async function wf(): Promise<void> {',
      "  await store.recordProgress({ operationId: 'x', step: 's', percentComplete: 1 });",
      '}',
    ].join('\n'),
  );
  expect(messages).toEqual([]);
});
