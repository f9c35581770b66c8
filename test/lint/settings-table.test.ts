// docs/configuration.md tells the truth about the settings: its tables are exactly what the
// schemas the processes parse describe (name, default, secret, description), no setting goes
// undocumented, and no runtime code reads an HCS_ setting outside those schemas.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { describeSettings, settingsTable } from '../../lib/settings.js';
import { DOC, namesInTable, sections, tableInDoc } from './settings-sections.js';

const doc = readFileSync(DOC, 'utf8');
const root = join(DOC, '..', '..');

/** What is wrong between the doc's table and the schema's settings, naming each setting. */
function differences(table: string | undefined, expected: ReturnType<typeof sections>[number]): string[] {
  if (table === undefined) return [`the ${expected.id} table's markers are missing`];
  const documented = new Set(namesInTable(table));
  const read = new Set(expected.settings.map((s) => s.name));
  return [
    ...[...read].filter((n) => !documented.has(n)).map((n) => `${n}: read but missing from docs/configuration.md`),
    ...[...documented].filter((n) => !read.has(n)).map((n) => `${n}: documented but not read`),
    ...expected.settings.filter((s) => !s.description).map((s) => `${s.name}: has no description (wrap its schema in setting())`),
  ];
}

for (const section of sections()) {
  it(`the ${section.id} table matches the settings the code reads`, () => {
    const table = tableInDoc(doc, section.id);
    expect(differences(table, section)).toEqual([]);
    // Defaults, secret marks and descriptions too (regenerate: npx tsx test/lint/settings-sections.ts --write).
    expect(table).toBe(settingsTable(section.settings));
  });
}

it('every secret is a file: no setting marked secret takes the secret itself', () => {
  const secrets = sections().flatMap((s) => s.settings.filter((x) => x.secret).map((x) => x.name));
  expect(secrets).toContain('HCS_PAYLOAD_KEYS_FILE');
  expect(secrets).toContain('vault.tokenFile');
  expect(secrets).toContain('terraform.backend.connStrFile (kind pg)');
  expect(secrets.filter((n) => !/(File|_FILE)\b/.test(n))).toEqual([]);
});

const READ = /\benv(?:\.|\[['"])(HCS_[A-Z0-9_]+)/g;

/** The runtime source files of the processes (tests left out). */
function runtimeFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts')) files.push(path);
    }
  };
  for (const d of ['apps/control-plane/src', 'apps/api/src', 'apps/worker/src', 'apps/host-manager/src', 'lib', 'activities', 'store'])
    walk(join(root, d));
  return files;
}

it('no process reads an HCS_ setting from the environment that the doc does not list', () => {
  const documented = new Set(sections().flatMap((s) => namesInTable(tableInDoc(doc, s.id) ?? '')));
  const files = runtimeFiles();
  expect(files.length).toBeGreaterThan(100);
  const undocumented = files.flatMap((f) =>
    [...readFileSync(f, 'utf8').matchAll(READ)].filter((m) => !documented.has(m[1]!)).map((m) => `${relative(root, f)}: ${m[1]}`),
  );
  expect(undocumented).toEqual([]);
  // The scan sees both spellings of a direct read.
  expect([...'process.env.HCS_X ?? env["HCS_Y"]'.matchAll(READ)].map((m) => m[1])).toEqual(['HCS_X', 'HCS_Y']);
});

it('the check fails naming a setting missing from the table and one documented but not read', () => {
  const schema = z.object({ HCS_A: z.string().meta({ description: 'a' }), HCS_NEW: z.string() });
  const table =
    '| setting | default | secret | what it does |\n| --- | --- | --- | --- |\n| `HCS_A` | required | no | a |\n| `HCS_GONE` | required | no | g |';
  expect(differences(table, { id: 'x', settings: describeSettings(schema) })).toEqual([
    'HCS_NEW: read but missing from docs/configuration.md',
    'HCS_GONE: documented but not read',
    'HCS_NEW: has no description (wrap its schema in setting())',
  ]);
});
