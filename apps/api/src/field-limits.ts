// The one place that knows how long every string of a request may be. Both transports call
// checkFieldLimits before anything else (authentication, handlers), so an oversized value never
// reaches a handler, a log line, the store or an error message; the refusal names the field and
// quotes only a short prefix. The limits are derived from the proto descriptors (every string
// field of every request message, nested messages, maps and lists included); the OpenAPI
// generator publishes the same numbers as maxLength.
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import { detail, jsonPath, throwIfAny, type ErrorDetail } from '../../../domain/errors.js';
import { MAX_TAG_NAME_LENGTH, MAX_TAG_VALUE_LENGTH } from '../../../domain/cluster-schema.js';
import { MAX_CLUSTER_NAME } from '../../../domain/resource-id.js';
import { SERVICES, type RpcRoute } from './contract.js';
import { GLOBAL_PARAMETERS, NON_BODY_FIELDS, PATH_PARAMETERS } from './openapi/arm-table.js';

/** Any string the tables below do not name. */
export const DEFAULT_MAX_LENGTH = 1024;
/** Characters of a rejected value an error message may quote. */
export const QUOTE_PREFIX = 40;
/** Nesting depth of a REST body beyond which it is refused (the walk below is recursive). */
const MAX_DEPTH = 32;
/** At most this many problems are reported for one request. */
const MAX_PROBLEMS = 10;

/** Top-level request fields, by proto name: the same meaning in every request (path variables, headers, paging). */
const REQUEST_FIELDS: Record<string, number> = {
  subscription_id: 36, // a GUID
  resource_group: 90, // ARM's limit for resource group names
  cluster_name: MAX_CLUSTER_NAME,
  location: 64, // an Azure region name
  operation_id: 64, // ours are GUIDs
  if_match: 256,
  if_none_match: 256,
  skip_token: 2048,
  snapshot_id: 64, // ours are GUIDs
  consul_version: 64,
  month: 16, // YYYY-MM
  peer_name: 128, // 63 accepted; room to refuse precisely
  peering_token: 8192, // Consul's tokens are about 2-3 KB (its CA certificates included)
};

/** Fields of nested messages, keyed `Message.field` (proto names, as arm-table FIELD_OVERRIDES). */
const MESSAGE_FIELDS: Record<string, number> = {
  // Values of a known short format: room above what the handlers accept, so they still answer
  // with their precise codes, yet short enough to quote.
  'Cluster.location': 64,
  'ClusterProperties.consul_version': 64,
  'ClusterProperties.datacenter': 128,
  'NetworkProfile.cidr': 64,
  'MaintenanceWindow.days': 16,
  'MaintenanceWindow.start_time': 32,
  'MaintenanceWindow.time_zone': 64,
  // A sealed document (service/federation.ts); far shorter in practice, refused precisely by the handler.
  'ClusterProperties.federation_token': 8192,
};

/** Maps: the longest key and value. ARM allows tag names of 512 and values of 256 characters. */
const MAP_FIELDS: Record<string, { key: number; value: number }> = {
  'Cluster.tags': { key: MAX_TAG_NAME_LENGTH, value: MAX_TAG_VALUE_LENGTH },
};

/** Request messages (method inputs) and every message reachable from them. */
const REQUEST_MESSAGES = new Set<string>(SERVICES.flatMap((s) => s.methods.map((m) => m.input.typeName)));
const REACHABLE = new Set<string>();
(function collect(messages: DescMessage[]) {
  for (const m of messages) {
    if (REACHABLE.has(m.typeName) || m.typeName.startsWith('google.protobuf.')) continue;
    REACHABLE.add(m.typeName);
    collect(m.fields.flatMap((f) => (f.message ? [f.message] : [])));
  }
})(SERVICES.flatMap((s) => s.methods.map((m) => m.input)));

const isString = (f: DescField): boolean =>
  (f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar')) && f.scalar === ScalarType.STRING;

/**
 * The longest value of a string field (or of each item of a repeated string field) of a request
 * message; undefined for other fields and for messages no request carries.
 */
export function maxLengthOf(field: DescField): number | undefined {
  if (!isString(field) || !REACHABLE.has(field.parent.typeName)) return undefined;
  const byMessage = MESSAGE_FIELDS[`${field.parent.name}.${field.name}`];
  if (byMessage !== undefined) return byMessage;
  const byName = REQUEST_MESSAGES.has(field.parent.typeName) ? REQUEST_FIELDS[field.name] : undefined;
  return byName ?? DEFAULT_MAX_LENGTH;
}

/** Key and value limits of a map field with string keys (values: when strings). */
export function mapLimitsOf(field: DescField): { key: number; value: number | undefined } | undefined {
  if (field.fieldKind !== 'map' || !REACHABLE.has(field.parent.typeName)) return undefined;
  const known = MAP_FIELDS[`${field.parent.name}.${field.name}`];
  const value = field.mapKind === 'scalar' && field.scalar === ScalarType.STRING ? (known?.value ?? DEFAULT_MAX_LENGTH) : undefined;
  return { key: known?.key ?? DEFAULT_MAX_LENGTH, value };
}

/** The limit of a path variable (proto field name), for the OpenAPI parameters. */
export function pathParameterMaxLength(field: string): number | undefined {
  return REQUEST_FIELDS[field];
}

/** A short, safe rendering of a (possibly huge) string for messages: at most QUOTE_PREFIX characters. */
export function quote(value: string): string {
  const head = [...value.slice(0, QUOTE_PREFIX * 2)].slice(0, QUOTE_PREFIX).join('');
  return head.length < value.length ? `${JSON.stringify(head)}...` : JSON.stringify(value);
}

/** Length in characters (code points), as ARM counts names. */
function length(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

type Segment = string | number;

class Walk {
  readonly problems: ErrorDetail[] = [];
  constructor(private readonly top: string | undefined) {}

  target(path: Segment[]): string {
    if (this.top === undefined) return jsonPath(path) || '(body)';
    const rest = jsonPath(path);
    return rest === '' ? this.top : rest.startsWith('[') ? `${this.top}${rest}` : `${this.top}.${rest}`;
  }

  string(value: string, limit: number, path: Segment[], what?: string): void {
    if (value.length <= limit) return;
    const n = length(value);
    if (n <= limit) return;
    const target = this.target(path);
    this.add(
      detail(
        'InvalidParameter',
        `${what ?? target} is ${n} characters long; at most ${limit} are allowed (the value starts with ${quote(value)})`,
        target,
      ),
    );
  }

  add(d: ErrorDetail): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(d);
  }

  /** Anything the contract does not describe (REST bodies only): every string and key gets the default. */
  any(value: unknown, path: Segment[], depth: number): void {
    if (typeof value === 'string') return this.string(value, DEFAULT_MAX_LENGTH, path);
    if (value === null || typeof value !== 'object') return;
    if (depth > MAX_DEPTH) {
      this.add(detail('InvalidRequestContent', `${this.target(path)} is nested more than ${MAX_DEPTH} levels deep`, this.target(path)));
      return;
    }
    if (Array.isArray(value)) return value.forEach((v, i) => this.any(v, [...path, i], depth + 1));
    for (const [k, v] of Object.entries(value)) {
      if (this.key(k, DEFAULT_MAX_LENGTH, path)) this.any(v, [...path, k], depth + 1);
    }
  }

  /** True when the key is short enough to appear in a target. */
  key(key: string, limit: number, path: Segment[]): boolean {
    if (key.length <= limit || length(key) <= limit) return true;
    this.string(key, limit, path, `A name in ${this.target(path)}`);
    return false;
  }

  message(message: DescMessage, value: unknown, path: Segment[], depth: number): void {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.any(value, path, depth);
    for (const [k, v] of Object.entries(value)) {
      const field = message.fields.find((f) => f.jsonName === k);
      if (!field) {
        if (this.key(k, DEFAULT_MAX_LENGTH, path)) this.any(v, [...path, k], depth + 1);
      } else this.field(field, v, [...path, k], depth + 1);
    }
  }

  field(field: DescField, value: unknown, path: Segment[], depth: number): void {
    switch (field.fieldKind) {
      case 'scalar':
        if (typeof value === 'string') return this.string(value, maxLengthOf(field) ?? DEFAULT_MAX_LENGTH, path);
        return this.any(value, path, depth);
      case 'message':
        if (field.message.typeName.startsWith('google.protobuf.')) return this.any(value, path, depth);
        return this.message(field.message, value, path, depth);
      case 'list':
        if (!Array.isArray(value)) return this.any(value, path, depth);
        return value.forEach((item, i) => {
          if (field.listKind === 'message' && !field.message.typeName.startsWith('google.protobuf.'))
            this.message(field.message, item, [...path, i], depth + 1);
          else if (typeof item === 'string') this.string(item, maxLengthOf(field) ?? DEFAULT_MAX_LENGTH, [...path, i]);
          else this.any(item, [...path, i], depth + 1);
        });
      case 'map': {
        if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.any(value, path, depth);
        const limits = mapLimitsOf(field) ?? { key: DEFAULT_MAX_LENGTH, value: DEFAULT_MAX_LENGTH };
        for (const [k, v] of Object.entries(value)) {
          if (!this.key(k, limits.key, path)) continue;
          if (field.mapKind === 'message') this.message(field.message, v, [...path, k], depth + 1);
          else if (typeof v === 'string') this.string(v, limits.value ?? DEFAULT_MAX_LENGTH, [...path, k]);
          else this.any(v, [...path, k], depth + 1);
        }
        return;
      }
      case 'enum':
        return this.any(value, path, depth);
    }
  }
}

/**
 * How the REST API names a top-level request field in errors: the ARM parameter name of a path
 * variable (resourceGroupName), the header or query name (If-Match, $skipToken), nothing for
 * the field that is the whole body (its fields are named from the body down), else its JSON name.
 */
export function restName(route: RpcRoute, field: DescField): string | undefined {
  if (route.pathParams.some((p) => p.field === field.name)) {
    const param = GLOBAL_PARAMETERS[PATH_PARAMETERS[field.name] ?? ''];
    if (typeof param?.name === 'string') return param.name;
  }
  const nonBody = NON_BODY_FIELDS[field.name];
  if (typeof nonBody?.name === 'string') return nonBody.name;
  if (route.body === field.jsonName) return undefined;
  return field.jsonName;
}

/**
 * Refuses a request any of whose strings is longer than its limit (InvalidParameter, target the
 * field as REST names it, at most QUOTE_PREFIX characters of the value quoted). `input` is the
 * request in proto JSON form: the decoded gRPC message, or for REST the path variables, headers,
 * query and body as received (for a body field such as `cluster`, the raw body under its name).
 */
export function checkFieldLimits(route: RpcRoute, input: Record<string, unknown>): void {
  const problems: ErrorDetail[] = [];
  for (const [k, v] of Object.entries(input)) {
    const field = route.method.input.fields.find((f) => f.jsonName === k);
    const walk = new Walk(field ? restName(route, field) : undefined);
    if (!field) {
      if (walk.key(k, DEFAULT_MAX_LENGTH, [])) walk.any(v, [k], 1);
    } else if (route.body === field.jsonName && field.message) walk.message(field.message, v, [], 1);
    else walk.field(field, v, [], 1);
    problems.push(...walk.problems);
    if (problems.length >= MAX_PROBLEMS) break;
  }
  throwIfAny(problems.slice(0, MAX_PROBLEMS));
}

/** A header value the API keeps (a correlation id): refused when longer than `limit`. */
export function checkHeaderLength(name: string, value: string | undefined, limit = 256): void {
  if (value === undefined) return;
  const walk = new Walk(name);
  walk.string(value, limit, []);
  throwIfAny(walk.problems);
}
