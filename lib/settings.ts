// Settings that describe themselves: each environment setting's zod schema carries its
// description and whether it holds (or names a file holding) a secret, so the documented table
// (docs/configuration.md) is derived from the schemas the processes parse, never kept by hand.
import { z } from 'zod';

export interface SettingDoc {
  name: string;
  /** The default as the process uses it, or undefined when there is none. */
  default: string | undefined;
  required: boolean;
  /** The setting is a secret, or the path of a file holding one. */
  secret: boolean;
  description: string;
}

/** Attaches the documentation of one setting to its schema. */
export function setting<T extends z.ZodType>(schema: T, description: string, o: { secret?: boolean } = {}): T {
  return schema.meta({ description, ...(o.secret ? { secret: true } : {}) });
}

/** The documentation of every setting of an object schema, in the schema's order; undocumented ones have description ''. */
export function describeSettings(schema: z.ZodObject): SettingDoc[] {
  return Object.entries(schema.shape).map(([name, s]) => describeOne(name, s as z.ZodType));
}

function describeOne(name: string, s: z.ZodType): SettingDoc {
  const meta = (s.meta() ?? {}) as { description?: string; secret?: boolean };
  let def: string | undefined;
  let required = true;
  let inner: z.ZodType = s;
  for (;;) {
    if (inner instanceof z.ZodDefault) {
      def = show(inner.def.defaultValue);
      required = false;
      inner = inner.def.innerType as z.ZodType;
    } else if (inner instanceof z.ZodOptional) {
      required = false;
      inner = inner.def.innerType as z.ZodType;
    } else if (inner instanceof z.ZodPipe) {
      // A parsed setting (JSON, a list): its default or optionality is on the input side.
      inner = inner.def.in as z.ZodType;
    } else break;
  }
  return { name, default: def, required, secret: meta.secret === true, description: meta.description ?? '' };
}

function show(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The settings as a Markdown table: name, default, secret, what it does. */
export function settingsTable(settings: SettingDoc[]): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const rows = settings.map(
    (s) =>
      `| \`${s.name}\` | ${s.default !== undefined ? `\`${cell(s.default)}\`` : s.required ? 'required' : 'unset'} | ${s.secret ? 'yes' : 'no'} | ${cell(s.description)} |`,
  );
  return ['| setting | default | secret | what it does |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
