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

/** A setting holding JSON, checked against `schema`. */
export const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

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
  return typeof v === 'string' && v !== '' ? v : JSON.stringify(v);
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

/**
 * The documented fields of a JSON setting, by dotted path; a discriminated union's fields carry
 * the variant (`dns.zone (kind challtestsrv)`), its discriminator is listed with its choices.
 */
export function describeFields(schema: z.ZodType, prefix = '', variant = ''): SettingDoc[] {
  let inner = schema;
  while (inner instanceof z.ZodDefault || inner instanceof z.ZodOptional) inner = inner.def.innerType as z.ZodType;
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape).flatMap(([k, s]) => {
      const path = prefix ? `${prefix}.${k}` : k;
      if (variant && s instanceof z.ZodLiteral) return [];
      const doc = describeOne(path, s as z.ZodType);
      return doc.description ? [{ ...doc, name: `${path}${variant}` }] : describeFields(s as z.ZodType, path, variant);
    });
  }
  if (inner instanceof z.ZodDiscriminatedUnion) {
    const key = inner.def.discriminator;
    const kinds = (inner.options as z.ZodObject[]).map((o) => String((o.shape[key] as z.ZodLiteral).value));
    const head: SettingDoc = {
      name: `${prefix}.${key}`,
      default: undefined,
      required: true,
      secret: false,
      description: `one of: ${kinds.join(', ')}`,
    };
    return [head, ...(inner.options as z.ZodObject[]).flatMap((o, i) => describeFields(o, prefix, ` (${key} ${kinds[i]})`))];
  }
  return [describeOne(prefix + variant, schema)];
}
