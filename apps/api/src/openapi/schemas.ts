// Swagger 2.0 definitions from protobuf message descriptors: JSON names, scalar types, enums
// (proto JSON value names), nested messages as $refs, maps as additionalProperties, repeated as
// arrays, Timestamp as date-time, descriptions from the proto comments. ARM-only annotations come
// from arm-table.ts.
import { ScalarType, type DescEnum, type DescField, type DescMessage } from '@bufbuild/protobuf';
import {
  DEFINITION_NAMES,
  FIELD_OVERRIDES,
  IDENTIFIERS,
  MESSAGE_OVERRIDES,
  PATCH_MODELS,
  READ_ONLY_JSON_FIELDS,
  REQUIRED_FIELDS,
  TRACKED_RESOURCE,
} from './arm-table.js';
import { mapLimitsOf, maxLengthOf } from '../field-limits.js';
import type { ProtoComments } from './proto-comments.js';

export type Json = Record<string, unknown>;

export interface MessageOptions {
  /** Definition name; default DEFINITION_NAMES or the proto name. */
  name?: string;
  /** Proto field names left out (path variables, headers, query parameters). */
  omit?: ReadonlySet<string>;
  /** JSON names of the fields kept; default all. */
  only?: readonly string[];
  /**
   * PATCH model (JSON merge patch): no `required`, no `x-ms-mutability`, and nested messages
   * that have required fields become `<Name>Update` variants without them.
   */
  patch?: boolean;
  /** Extra keys merged into the definition. */
  extra?: Json;
  /** Per JSON field name: use this schema instead of the generated one. */
  replace?: Record<string, Json>;
}

const TIMESTAMP = 'google.protobuf.Timestamp';

export function ref(name: string): Json {
  return { $ref: `#/definitions/${name}` };
}

export function scalarSchema(t: ScalarType): Json {
  switch (t) {
    case ScalarType.DOUBLE:
      return { type: 'number', format: 'double' };
    case ScalarType.FLOAT:
      return { type: 'number', format: 'float' };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: 'integer', format: 'int32' };
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: 'integer', format: 'int64' };
    case ScalarType.BOOL:
      return { type: 'boolean' };
    case ScalarType.BYTES:
      return { type: 'string', format: 'byte' };
    case ScalarType.STRING:
      return { type: 'string' };
  }
}

/** maxLength of a request's string field (or of each item), as the API checks it (field-limits.ts). */
function lengthOf(field: DescField): Json {
  const max = maxLengthOf(field);
  return max === undefined ? {} : { maxLength: max };
}

function hasRequired(message: DescMessage, seen: Set<string>): boolean {
  if (seen.has(message.typeName)) return false;
  seen.add(message.typeName);
  if (REQUIRED_FIELDS[message.name]?.length) return true;
  return message.fields.some((f) => f.message !== undefined && hasRequired(f.message, seen));
}

/** Collects definitions; one name always means one shape (a clash throws). */
export class Definitions {
  readonly all: Record<string, Json> = {};
  private readonly building = new Set<string>();

  constructor(private readonly comments: ProtoComments) {}

  nameOf(message: DescMessage): string {
    return DEFINITION_NAMES[message.typeName] ?? message.name;
  }

  /** Adds a definition by name (ARM-only or derived); identical re-adds are fine. */
  add(name: string, def: Json): Json {
    const existing = this.all[name];
    if (existing !== undefined && JSON.stringify(existing) !== JSON.stringify(def)) {
      throw new Error(`definition ${name} would have two different shapes`);
    }
    this.all[name] = def;
    return ref(name);
  }

  /** $ref to the message's definition, generating it (and what it references) on first use. */
  message(message: DescMessage, o: MessageOptions = {}): Json {
    const name = o.name ?? this.nameOf(message);
    if (this.building.has(name) || (this.all[name] !== undefined && !o.name)) return ref(name);
    this.building.add(name);
    try {
      return this.add(name, this.messageSchema(message, o));
    } finally {
      this.building.delete(name);
    }
  }

  /** The PATCH model of a message (arm-table PATCH_MODELS), e.g. Cluster -> ClusterUpdate. */
  patchModel(message: DescMessage): Json {
    const model = PATCH_MODELS[message.typeName];
    if (!model) throw new Error(`no PATCH model for ${message.typeName} in arm-table.ts PATCH_MODELS`);
    const replace: Record<string, Json> = {};
    for (const [json, nested] of Object.entries(model.nested ?? {})) {
      const field = message.fields.find((f) => f.jsonName === json);
      if (field?.message === undefined) throw new Error(`PATCH model ${model.name}: ${json} is not a message field`);
      const description = this.comments.get(`${message.typeName}.${field.name}`);
      replace[json] = {
        ...this.message(field.message, {
          name: nested.name,
          only: nested.fields,
          patch: true,
          extra: { description: `The updatable properties of the ${field.message.name}.` },
        }),
        ...(description ? { description } : {}),
      };
    }
    return this.message(message, {
      name: model.name,
      only: model.fields,
      patch: true,
      replace,
      extra: { description: `The updatable properties of the ${message.name}.` },
    });
  }

  private messageSchema(message: DescMessage, o: MessageOptions): Json {
    const properties: Json = {};
    for (const field of message.fields) {
      if (o.omit?.has(field.name)) continue;
      if (o.only && !o.only.includes(field.jsonName)) continue;
      properties[field.jsonName] = o.replace?.[field.jsonName] ?? this.field(field, o.patch === true);
    }
    if (o.only) {
      const missing = o.only.filter((j) => properties[j] === undefined);
      if (missing.length) throw new Error(`${message.typeName} has no fields ${missing.join(', ')}`);
    }
    const required = o.patch ? [] : (REQUIRED_FIELDS[message.name] ?? []).filter((j) => properties[j] !== undefined);
    const description = this.comments.get(message.typeName);
    return {
      type: 'object',
      ...MESSAGE_OVERRIDES[message.name],
      ...(description ? { description } : {}),
      properties,
      ...(required.length ? { required: [...required] } : {}),
      ...(message.typeName === TRACKED_RESOURCE && !o.name ? { 'x-ms-azure-resource': true } : {}),
      ...o.extra,
    };
  }

  private field(field: DescField, forPatch: boolean): Json {
    const parent = field.parent;
    const { $ref, ...annotations } = FIELD_OVERRIDES[`${parent.name}.${field.name}`] ?? {};
    const schema = typeof $ref === 'string' ? { $ref } : this.fieldType(field, forPatch);
    const description = this.comments.get(`${parent.typeName}.${field.name}`);
    const readOnly = READ_ONLY_JSON_FIELDS[parent.name]?.includes(field.jsonName) ? { readOnly: true } : {};
    const merged: Json = { ...schema, ...(description ? { description } : {}), ...readOnly, ...annotations };
    if (forPatch) delete merged['x-ms-mutability'];
    return merged;
  }

  private fieldType(field: DescField, patch: boolean): Json {
    switch (field.fieldKind) {
      case 'scalar':
        return { ...scalarSchema(field.scalar), ...lengthOf(field) };
      case 'enum':
        return this.enumSchema(field.enum);
      case 'message':
        return this.messageOrWkt(field.message, patch);
      case 'list':
        return {
          type: 'array',
          items:
            field.listKind === 'scalar'
              ? { ...scalarSchema(field.scalar), ...lengthOf(field) }
              : field.listKind === 'enum'
                ? this.enumSchema(field.enum)
                : this.messageOrWkt(field.message, patch),
          ...(field.listKind === 'message' && IDENTIFIERS[`${field.parent.name}.${field.name}`]
            ? { 'x-ms-identifiers': IDENTIFIERS[`${field.parent.name}.${field.name}`] }
            : {}),
        };
      case 'map': {
        const valueLength = mapLimitsOf(field)?.value;
        return {
          type: 'object',
          additionalProperties:
            field.mapKind === 'scalar'
              ? { ...scalarSchema(field.scalar), ...(valueLength !== undefined ? { maxLength: valueLength } : {}) }
              : field.mapKind === 'enum'
                ? this.enumSchema(field.enum)
                : this.messageOrWkt(field.message, patch),
        };
      }
    }
  }

  private messageOrWkt(message: DescMessage, patch: boolean): Json {
    if (message.typeName === TIMESTAMP) return { type: 'string', format: 'date-time' };
    if (message.typeName.startsWith('google.protobuf.')) throw new Error(`no OpenAPI mapping for ${message.typeName}`);
    if (patch && hasRequired(message, new Set())) {
      const description = `${this.comments.get(message.typeName) ?? message.name} In a PATCH every field is optional (JSON merge patch).`;
      return this.message(message, { name: `${this.nameOf(message)}Update`, patch: true, extra: { description } });
    }
    return this.message(message);
  }

  /** Proto JSON writes enum value names; the zero `*_UNSPECIFIED` value means "not set" and is never sent. */
  private enumSchema(e: DescEnum): Json {
    const values = e.values.filter((v) => !(v.number === 0 && v.name.endsWith('_UNSPECIFIED')));
    return {
      type: 'string',
      enum: values.map((v) => v.name),
      'x-ms-enum': {
        name: e.name,
        modelAsString: true,
        values: values.map((v) => {
          const description = this.comments.get(`${e.typeName}.${v.name}`);
          return { value: v.name, ...(description ? { description } : {}) };
        }),
      },
    };
  }
}
