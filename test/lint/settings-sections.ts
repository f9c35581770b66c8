// The settings tables of docs/configuration.md, derived from the schemas the processes parse
// (each setting documents itself, lib/settings.ts). `npx tsx test/lint/settings-sections.ts --write`
// rewrites the tables in the doc; test/lint/settings-table.test.ts fails while they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiEnvSchema } from '../../apps/control-plane/src/api-config.js';
import { auditVerifyEnvSchema } from '../../apps/control-plane/src/audit-verify.js';
import { workerEnvSchema } from '../../apps/control-plane/src/config.js';
import { hostEnvSchema } from '../../apps/host-manager/src/config.js';
import { lifecycleConfigSchema } from '../../apps/worker/src/lifecycle-schema.js';
import { meteringConfigSchema } from '../../apps/worker/src/metering-config.js';
import { describeFields, describeSettings, settingsTable, type SettingDoc } from '../../lib/settings.js';

export const DOC = fileURLToPath(new URL('../../docs/configuration.md', import.meta.url));

export interface Section {
  id: string;
  settings: SettingDoc[];
}

/** Each table of the doc: the settings both control-plane processes read, the API's own, HCS_LIFECYCLE's and HCS_METERING's fields, host-manager's, npm run audit:verify's. */
export function sections(): Section[] {
  const worker = describeSettings(workerEnvSchema);
  const workerNames = new Set(worker.map((s) => s.name));
  return [
    { id: 'control-plane', settings: worker },
    { id: 'api', settings: describeSettings(apiEnvSchema).filter((s) => !workerNames.has(s.name)) },
    { id: 'lifecycle', settings: describeFields(lifecycleConfigSchema) },
    { id: 'metering', settings: describeFields(meteringConfigSchema) },
    { id: 'host-manager', settings: describeSettings(hostEnvSchema) },
    { id: 'audit-verify', settings: describeSettings(auditVerifyEnvSchema) },
  ];
}

const marker = (id: string) => [`<!-- settings:${id} (generated from the schemas) -->`, `<!-- /settings:${id} -->`] as const;

/** The table the doc holds for section `id`, or undefined when its markers are missing. */
export function tableInDoc(doc: string, id: string): string | undefined {
  const [open, close] = marker(id);
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  return start < 0 || end < start ? undefined : doc.slice(start + open.length, end).trim();
}

/** The setting names of a Markdown settings table (first column, in backticks). */
export function namesInTable(table: string): string[] {
  return [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
}

/** `doc` with every section's table regenerated. */
export function withTables(doc: string): string {
  let out = doc;
  for (const s of sections()) {
    const [open, close] = marker(s.id);
    if (tableInDoc(out, s.id) === undefined)
      throw new Error(`docs/configuration.md has no markers for the ${s.id} table: add ${open} ... ${close}`);
    out = `${out.slice(0, out.indexOf(open))}${open}\n${settingsTable(s.settings)}\n${out.slice(out.indexOf(close))}`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--write')) {
  writeFileSync(DOC, withTables(readFileSync(DOC, 'utf8')));
}
