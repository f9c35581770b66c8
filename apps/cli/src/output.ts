// Printing answers in the format -o asks for: json (the API's own JSON), yaml (the same document
// as YAML) or table (chosen columns, aligned; one row per item).
import { stringify as toYaml } from 'yaml';
import type { OutputFormat } from './settings.js';

export type Column<T> = [header: string, cell: (row: T) => unknown];

export interface Writer {
  write(chunk: string): unknown;
}

/** Prints `value` as json or yaml, or `rows` as a table with `columns`. */
export function printValue<T>(out: Writer, format: OutputFormat, value: unknown, table: { rows: T[]; columns: Column<T>[] }): void {
  if (format === 'json') out.write(`${JSON.stringify(value, null, 2)}\n`);
  else if (format === 'yaml') out.write(toYaml(value));
  else out.write(formatTable(table.rows, table.columns));
}

/** Aligned columns, headers first; an empty list prints the headers alone. */
export function formatTable<T>(rows: T[], columns: Column<T>[]): string {
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, cell]) => text(cell(r))))];
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i]!.length)));
  return (
    cells
      .map((line) =>
        line
          .map((c, i) => (i === line.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** Key/value rows for a flat document (table output of answers that are no list). */
export function fieldRows(doc: Record<string, unknown>): Array<{ field: string; value: unknown }> {
  return Object.entries(doc).map(([field, value]) => ({ field, value }));
}

export const FIELD_COLUMNS: Column<{ field: string; value: unknown }>[] = [
  ['FIELD', (r) => r.field],
  ['VALUE', (r) => r.value],
];

function text(v: unknown): string {
  if (v === undefined || v === null || v === '') return '-';
  if (Array.isArray(v)) return v.length ? v.map(text).join(',') : '-';
  const s = typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return s.replace(/[\r\n\t]+/g, ' ');
}
