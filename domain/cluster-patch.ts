// PATCH of a cluster: tags are replaced as a whole set (ARM), properties follow JSON merge
// patch (RFC 7386: objects merge, null removes, so a removed field falls back to its default).
// Only day-2 settings may change here; anything that would rebuild the cluster is refused.
import {
  type ClusterSpec,
  consulVersionChangeProblem,
  immutableFieldProblem,
  isPlainObject,
  stripReadOnly,
  validateClusterBody,
  type ValidationContext,
} from './cluster-spec.js';
import { normalizeLocation } from './cluster-schema.js';
import { describeValue, detail, type ErrorDetail, INVALID_REQUEST_CONTENT, throwIfAny, ValidationError } from './errors.js';

export const PATCHABLE_PROPERTIES = ['serverCount', 'upgradePolicy', 'maintenanceWindow', 'snapshotPolicy'] as const;
const IMMUTABLE_PROPERTIES = ['network', 'datacenter', 'publicEndpoint'] as const;

/**
 * Applies a PATCH body to the stored spec and returns the resulting spec, validated as a
 * whole. Sending an immutable field with its current value is accepted as a no-op, because
 * clients often PATCH back what they read.
 */
export function parseClusterPatch(body: unknown, current: ClusterSpec, ctx: ValidationContext): ClusterSpec {
  if (!isPlainObject(body)) {
    throw new ValidationError([
      detail(INVALID_REQUEST_CONTENT, `the request body must be a JSON object (a merge patch); got ${describeValue(body)}`),
    ]);
  }
  const { rest, echoedState } = stripReadOnly(body, ctx.readOnlyProperties ?? []);
  const patch = rest as Record<string, unknown>;
  const problems: ErrorDetail[] = [];
  const merged = toPlainBody(current);

  for (const [key, value] of Object.entries(patch)) {
    if (key === 'tags') {
      if (value === null) delete merged.tags;
      else merged.tags = value;
    } else if (key === 'location') {
      if (typeof value !== 'string' || normalizeLocation(value) !== normalizeLocation(current.location)) {
        problems.push(immutableFieldProblem('location', current.location, value));
      }
    } else if (key !== 'properties') {
      problems.push(unknownField(key, ['tags', 'properties']));
    }
  }

  const properties = patch.properties;
  if (properties !== undefined && !isPlainObject(properties)) {
    problems.push(
      detail(
        'InvalidProperties',
        `properties must be an object holding the fields to change; got ${describeValue(properties)}`,
        'properties',
      ),
    );
  } else if (properties !== undefined) {
    const mergedProperties = merged.properties as Record<string, unknown>;
    for (const [key, value] of Object.entries(properties)) {
      if ((PATCHABLE_PROPERTIES as readonly string[]).includes(key)) {
        const next = mergePatch(mergedProperties[key], value);
        if (next === undefined) delete mergedProperties[key];
        else mergedProperties[key] = next;
      } else if (key === 'consulVersion') {
        if (value !== current.properties.consulVersion) problems.push(consulVersionChangeProblem(current.properties.consulVersion, value));
      } else if ((IMMUTABLE_PROPERTIES as readonly string[]).includes(key)) {
        const stored: unknown = current.properties[key as (typeof IMMUTABLE_PROPERTIES)[number]];
        if (!sameJson(mergePatch(stored, value), stored)) problems.push(immutableFieldProblem(`properties.${key}`, stored, value));
      } else {
        problems.push(unknownField(`properties.${key}`, PATCHABLE_PROPERTIES));
      }
    }
  }
  if (echoedState !== undefined) (merged.properties as Record<string, unknown>).provisioningState = echoedState;

  const result = validateClusterBody(merged, { ...ctx, currentSpec: current, readOnlyProperties: [] });
  throwIfAny([...problems, ...result.details]);
  return result.spec as ClusterSpec;
}

/** RFC 7386 JSON merge patch; undefined means "remove the member". */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null) return undefined;
  if (!isPlainObject(patch)) return patch;
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    const next = mergePatch(result[key], value);
    if (next === undefined) delete result[key];
    else result[key] = next;
  }
  return result;
}

const SPEC_FIELDS = [
  'location',
  'tags',
  'properties.consulVersion',
  'properties.serverCount',
  'properties.datacenter',
  'properties.network',
  'properties.publicEndpoint',
  'properties.upgradePolicy',
  'properties.maintenanceWindow',
  'properties.snapshotPolicy',
] as const;
export type SpecField = (typeof SPEC_FIELDS)[number];

/**
 * Fields that differ between two specs, so the API can tell a tags-only update (no workflow)
 * from one that needs work (serverCount -> scale, snapshotPolicy -> reschedule).
 */
export function changedFields(before: ClusterSpec, after: ClusterSpec): SpecField[] {
  return SPEC_FIELDS.filter((path) => !sameJson(valueAt(before, path), valueAt(after, path)));
}

/** Compares JSON values ignoring key order (tags arrive in any order). */
export function sameJson(a: unknown, b: unknown): boolean {
  return stableStringify(a) === stableStringify(b);
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (isPlainObject(value)) {
    const entries = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableStringify(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'undefined';
}

function valueAt(spec: ClusterSpec, path: string): unknown {
  let node: unknown = spec;
  for (const key of path.split('.')) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** The stored spec as a request body (without what the API derives, such as the federation's primary). */
function toPlainBody(spec: ClusterSpec): Record<string, unknown> {
  const body = JSON.parse(JSON.stringify(spec)) as { properties: Record<string, unknown> };
  delete body.properties.primaryClusterId;
  return body;
}

function unknownField(target: string, allowed: readonly string[]): ErrorDetail {
  return detail(
    'UnknownField',
    `${target} cannot be set by PATCH: it is not a known field; fields PATCH can change here: ${allowed.join(', ')}`,
    target,
  );
}
