// The runbooks as a set (no stack needed): docs/runbooks/README.md lists exactly the runbooks that
// exist, every runbook parses into steps, every runbook is opened by a test in test/runbooks/ (so
// its steps are run: each such test ends asserting none was left unrun), and the parser refuses
// what would let a command go unrun or unnamed.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRunbook, RUNBOOK_DIR, runbookFiles } from './runbook.js';

const TEST_DIR = import.meta.dirname;
const readme = readFileSync(join(RUNBOOK_DIR, 'README.md'), 'utf8');

/** The runbooks the README's table links to (rows of the form `| [x.md](x.md) | ... |`). */
function listedRunbooks(): string[] {
  const rows = [...readme.matchAll(/^\| \[([^\]]+\.md)\]\(([^)]+)\) \|/gm)];
  for (const [, text, target] of rows) expect(target, `README row ${text}`).toBe(text);
  return rows.map((r) => r[1]!).sort();
}

/** The runbook file names each test file in test/runbooks/ opens with openRunbook('<name>', ...). */
function openedRunbooks(): Map<string, string[]> {
  const opened = new Map<string, string[]>();
  for (const f of readdirSync(TEST_DIR).filter((n) => n.endsWith('.test.ts') && n !== 'runbooks.test.ts')) {
    const text = readFileSync(join(TEST_DIR, f), 'utf8');
    for (const [, name] of text.matchAll(/openRunbook\(\s*'([^']+)'/g)) opened.set(name!, [...(opened.get(name!) ?? []), f]);
  }
  return opened;
}

describe('docs/runbooks', () => {
  it('the README lists exactly the runbooks that exist', () => {
    expect(listedRunbooks()).toEqual(runbookFiles());
    expect(runbookFiles().length).toBeGreaterThan(0);
  });

  it('every runbook parses into uniquely named steps', () => {
    for (const file of runbookFiles()) {
      const steps = parseRunbook(file, readFileSync(join(RUNBOOK_DIR, file), 'utf8'));
      expect(steps.length, file).toBeGreaterThan(0);
      expect(new Set(steps.map((s) => s.id)).size, file).toBe(steps.length);
    }
  });

  it('every runbook is opened by a test in test/runbooks/, and every opened name is a runbook', () => {
    const opened = openedRunbooks();
    for (const file of runbookFiles()) expect(opened.get(file), `no test in test/runbooks/ opens ${file}`).toBeDefined();
    for (const [name, tests] of opened) expect(runbookFiles(), `${tests.join(', ')} open ${name}`).toContain(name);
  });
});

describe('parseRunbook', () => {
  const doc = (...blocks: string[]) => ['# Title', '', 'Some prose.', '', ...blocks.flatMap((b) => [b, ''])].join('\n');

  it('reads each sh block as a step with its id, text and line; other blocks are prose', () => {
    const text = doc(
      '```sh\n# step: first-step\necho one\n```',
      '```json\n{"not": "a step"}\n```',
      '```sh\n# step: second\necho two\necho three\n```',
    );
    expect(parseRunbook('x.md', text)).toEqual([
      { id: 'first-step', script: '# step: first-step\necho one', line: 5 },
      { id: 'second', script: '# step: second\necho two\necho three', line: 14 },
    ]);
  });

  it('refuses a sh block that does not start with a step line, naming the file and line', () => {
    expect(() => parseRunbook('x.md', doc('```sh\necho unnamed\n```'))).toThrow(
      'x.md:5: a sh block must start with "# step: <id>" (lower-case words and dashes)',
    );
    expect(() => parseRunbook('x.md', doc('```sh\n# step: Upper_Case\necho\n```'))).toThrow(/^x\.md:5: a sh block must start with/);
    expect(() => parseRunbook('x.md', doc('```sh\n\n# step: late\n```'))).toThrow(/^x\.md:5: /);
  });

  it('refuses a step id used twice, at the second block', () => {
    expect(() => parseRunbook('x.md', doc('```sh\n# step: same\necho 1\n```', '```sh\n# step: same\necho 2\n```'))).toThrow(
      'x.md:10: step "same" appears twice',
    );
  });

  it('refuses a block that is never closed', () => {
    expect(() => parseRunbook('x.md', doc('```sh\n# step: open\necho'))).toThrow('x.md:5: code block never closed');
  });
});
