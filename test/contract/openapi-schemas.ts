// Validates JSON against the schemas of the generated OpenAPI document (Swagger 2.0: JSON Schema
// draft 04 plus Swagger's formats and x-ms- annotations) with Ajv, as ARM's example and model
// validation reads them: objects accept only the properties they declare, and a request body may
// not carry a read-only property. Shared by the example test and the tests that check live answers.
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import type { ErrorObject, ValidateFunction } from 'ajv';

// CommonJS modules: their class and plugin are the `default` export of module.exports.
const AjvDraft04 = ajvDraft04.default;
const addFormats = ajvFormats.default;

type Json = Record<string, unknown>;

export interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'body';
  required?: boolean;
  schema?: Json;
  [keyword: string]: unknown;
}
export interface Operation {
  operationId: string;
  parameters: Array<Parameter | { $ref: string }>;
  responses: Record<string, { schema?: Json; headers?: Record<string, Json> }>;
  'x-ms-examples'?: Record<string, { $ref: string }>;
  'x-ms-long-running-operation-options'?: { 'final-state-via': string; 'final-state-schema'?: string };
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  definitions: Record<string, Json>;
  parameters: Record<string, Parameter>;
}

/** Keywords of a non-body parameter or a header that are JSON Schema. */
const SIMPLE_KEYWORDS = ['type', 'format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'enum', 'items'];

/** Swagger's own numeric formats (Ajv knows the string ones through ajv-formats). */
const NUMBER_FORMATS = {
  int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 },
  int64: { type: 'number', validate: (n: number) => Number.isInteger(n) },
  float: { type: 'number', validate: (n: number) => Number.isFinite(n) },
  double: { type: 'number', validate: (n: number) => Number.isFinite(n) },
} as const;

/** Every object schema closed (additionalProperties false where it says nothing); for requests, read-only properties left out. */
function closed(schema: unknown, direction: 'request' | 'response'): unknown {
  if (Array.isArray(schema)) return schema.map((s) => closed(s, direction));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties' && v && typeof v === 'object') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, Json>)
          .filter(([, p]) => !(direction === 'request' && p.readOnly === true))
          .map(([name, p]) => [name, closed(p, direction)]),
      );
    } else out[k] = k.startsWith('x-ms-') || k === 'example' ? v : closed(v, direction);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

export class DocumentSchemas {
  private readonly ajv: InstanceType<typeof AjvDraft04>;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(readonly doc: OpenApiDocument) {
    this.ajv = new AjvDraft04({ strict: false, allErrors: true, formats: NUMBER_FORMATS });
    addFormats(this.ajv);
    for (const direction of ['request', 'response'] as const) {
      this.ajv.addSchema({ id: `${direction}.json`, definitions: closed(this.doc.definitions, direction) });
    }
  }

  /** The parameter a `{ $ref: '#/parameters/X' }` or an inline one stands for. */
  parameter(p: Parameter | { $ref: string }): Parameter {
    if (typeof p.$ref !== 'string') return p as Parameter;
    const found = this.doc.parameters[p.$ref.replace('#/parameters/', '')];
    if (!found) throw new Error(`no parameter ${p.$ref}`);
    return found;
  }

  /** Errors of a value against a schema of the document (`$ref`s into its definitions), or [] when it conforms. */
  errors(schema: Json, value: unknown, direction: 'request' | 'response'): string[] {
    const key = `${direction}:${JSON.stringify(schema)}`;
    let validate = this.cache.get(key);
    if (!validate) {
      const rebased = JSON.parse(
        JSON.stringify(closed(schema, direction)).replaceAll('"#/definitions/', `"${direction}.json#/definitions/`),
      ) as Json;
      validate = this.ajv.compile(rebased);
      this.cache.set(key, validate);
    }
    const check = validate;
    return check(value) ? [] : (check.errors ?? []).map(describe);
  }

  /** Errors of a parameter's or header's value (query, path and header values of an example; headers arrive as strings). */
  simpleErrors(declared: Json, value: unknown, fromHeader = false): string[] {
    const schema = Object.fromEntries(SIMPLE_KEYWORDS.filter((k) => declared[k] !== undefined).map((k) => [k, declared[k]]));
    const v = fromHeader && schema.type === 'integer' && typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    return this.errors(schema, v, 'request');
  }
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || '(root)';
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty: string }).additionalProperty)})` : '';
  return `${where} ${e.message ?? e.keyword}${extra}`;
}
