// The cluster resource as customers send it (ARM shape) and the rules for accepting it.
// Everything wrong with a body is reported at once, so a customer fixes it in one round trip.
import { findCidrOverlaps, overlapProblem, parseIpv4Cidr, type SubscriptionCidr } from './cidr.js';
import { clusterBodySchema, clusterFieldCatalogue, normalizeLocation, type ParsedClusterBody } from './cluster-schema.js';
import { detail, type ErrorDetail, throwIfAny, describeValue } from './errors.js';
import type { MaintenanceWindow } from './maintenance-window.js';
import type { ServerCount } from './server-count.js';
import { failedTargets, isUnder, issuesToDetails } from './spec-issues.js';
import type { UpgradePolicy } from './versions.js';

export const DEFAULT_SERVER_COUNT: ServerCount = 3;
export const DEFAULT_DATACENTER = 'dc1';
export const DEFAULT_PUBLIC_ENDPOINT = false;
export const DEFAULT_AUTOMATIC_PATCH_UPGRADES = true;
export const DEFAULT_SNAPSHOT_INTERVAL_HOURS = 1;
export const DEFAULT_SNAPSHOT_RETENTION_COUNT = 8;
/** Name of the POST action that changes the Consul version; named in refusal messages. */
export const UPGRADE_ACTION = 'upgrade';

/** ARM envelope fields a client may echo back from a GET; the URL and the store are authoritative. */
export const READ_ONLY_TOP_LEVEL_FIELDS = ['id', 'name', 'type', 'systemData', 'etag'] as const;

export interface NetworkSpec {
  cidr: string;
}

export interface SnapshotPolicy {
  intervalHours: number;
  retentionCount: number;
}

/** Properties with every default applied: what is stored and what workflows act on. */
export interface ClusterProperties {
  consulVersion: string;
  serverCount: ServerCount;
  datacenter: string;
  network: NetworkSpec;
  publicEndpoint: boolean;
  upgradePolicy: UpgradePolicy;
  /** Absent: maintenance may happen at any time. */
  maintenanceWindow?: MaintenanceWindow;
  snapshotPolicy: SnapshotPolicy;
  /**
   * Resource id of the primary cluster when this one is a WAN-federation secondary; set by the
   * API from a federation token on create, never by the customer directly, never changed.
   */
  primaryClusterId?: string;
}

export interface ClusterSpec {
  /** Normalised: lower case, no spaces. */
  location: string;
  tags?: Record<string, string>;
  properties: ClusterProperties;
}

/** What a customer may send: everything with a default is optional. */
export interface ClusterBody {
  location: string;
  tags?: Record<string, string> | null;
  properties: {
    /** Omitted on create: the catalogue's default (newest RECOMMENDED, see domain/versions.ts). */
    consulVersion?: string | null;
    serverCount?: ServerCount | null;
    datacenter?: string | null;
    network: NetworkSpec;
    publicEndpoint?: boolean | null;
    upgradePolicy?: Partial<UpgradePolicy> | null;
    maintenanceWindow?: MaintenanceWindow | null;
    snapshotPolicy?: Partial<SnapshotPolicy> | null;
    federationToken?: string | null;
  };
}

export interface ValidationContext {
  /** Versions a new cluster may be created with (the catalogue, any status). */
  knownConsulVersions: string[];
  /** The version a create without consulVersion gets; absent when the catalogue has none to offer. */
  defaultConsulVersion?: string;
  /**
   * CIDRs of the subscription's clusters - all, or only those overlapping the requested range;
   * the cluster itself may be included (see resourceId).
   */
  existingCidrsInSubscription: Array<{ resourceId: string; cidr: string }>;
  /** When given, new clusters must be in one of these (compared ignoring case and spaces). */
  allowedLocations?: string[];
  /** The stored spec when the request updates an existing cluster. */
  currentSpec?: ClusterSpec;
  /** This cluster's id, so its own entry in existingCidrsInSubscription is not an overlap. */
  resourceId?: string;
  /** Stored provisioningState; an echoed value that differs is refused, as ARM requires. */
  currentProvisioningState?: string;
  /** Read-only names under `properties` that responses include and clients may echo back. */
  readOnlyProperties?: string[];
}

/**
 * Validates a PUT body (create or replace) and returns it with defaults applied. Throws a
 * ValidationError listing every problem found.
 */
export function parseClusterBody(body: unknown, ctx: ValidationContext): ClusterSpec {
  const result = validateClusterBody(body, ctx);
  throwIfAny(result.details);
  // No details means zod succeeded, so spec is set.
  return result.spec as ClusterSpec;
}

export interface ClusterBodyResult {
  spec?: ClusterSpec;
  details: ErrorDetail[];
}

/** The non-throwing core of parseClusterBody, shared with PATCH. */
export function validateClusterBody(body: unknown, ctx: ValidationContext): ClusterBodyResult {
  const { rest, echoedState } = stripReadOnly(body, ctx.readOnlyProperties ?? []);
  const parsed = clusterBodySchema.safeParse(rest, { reportInput: true });
  const issues = parsed.success ? [] : parsed.error.issues;
  const details = [
    ...issuesToDetails(issues, clusterFieldCatalogue),
    ...contextProblems(rest, ctx, failedTargets(issues)),
    ...provisioningStateProblems(echoedState, ctx.currentProvisioningState),
    ...(parsed.success && version(parsed.data, ctx) === undefined ? [noDefaultVersionProblem(ctx)] : []),
  ];
  return parsed.success && details.length === 0 ? { spec: withDefaults(parsed.data, version(parsed.data, ctx)), details } : { details };
}

/** Refusal for a field that cannot change once the cluster exists. */
export function immutableFieldProblem(target: string, current: unknown, requested: unknown, note = ''): ErrorDetail {
  return detail(
    'PropertyChangeNotAllowed',
    `${target} cannot be changed after the cluster is created: it is ${describeValue(current)}, the request asks for ${describeValue(requested)}${note}; create a new cluster to use a different value`,
    target,
  );
}

export function consulVersionChangeProblem(current: string, requested: unknown): ErrorDetail {
  return detail(
    'PropertyChangeNotAllowed',
    `properties.consulVersion cannot be changed by PUT or PATCH: it is ${describeValue(current)}, the request asks for ${describeValue(requested)}; use the '${UPGRADE_ACTION}' action (POST .../clusters/{clusterName}/${UPGRADE_ACTION} with {"consulVersion": ${describeValue(requested)}})`,
    'properties.consulVersion',
  );
}

function contextProblems(raw: unknown, ctx: ValidationContext, failed: ReadonlySet<string>): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const current = ctx.currentSpec;
  const usable = (target: string) => !isUnder(target, failed);

  const location = field(raw, ['location']);
  if (typeof location === 'string' && usable('location')) {
    const requested = normalizeLocation(location);
    if (current && requested !== normalizeLocation(current.location)) {
      problems.push(immutableFieldProblem('location', current.location, location));
    } else if (!current && ctx.allowedLocations && !ctx.allowedLocations.map(normalizeLocation).includes(requested)) {
      problems.push(
        detail(
          'LocationNotAvailableForResourceType',
          `location ${describeValue(location)} is not available for clusters; available locations: ${ctx.allowedLocations.join(', ')}`,
          'location',
        ),
      );
    }
  }

  const version = field(raw, ['properties', 'consulVersion']);
  if (typeof version === 'string' && usable('properties.consulVersion')) {
    if (current && version !== current.properties.consulVersion) {
      problems.push(consulVersionChangeProblem(current.properties.consulVersion, version));
    } else if (!current && !ctx.knownConsulVersions.includes(version)) {
      problems.push(
        detail(
          'UnsupportedConsulVersion',
          `properties.consulVersion ${version} is not offered; supported versions: ${ctx.knownConsulVersions.join(', ')}`,
          'properties.consulVersion',
        ),
      );
    }
  }

  const cidr = field(raw, ['properties', 'network', 'cidr']);
  if (typeof cidr === 'string' && usable('properties.network.cidr')) {
    if (current && cidr !== current.properties.network.cidr) {
      problems.push(immutableFieldProblem('properties.network.cidr', current.properties.network.cidr, cidr));
    } else if (!current) {
      problems.push(...cidrOverlapProblems(cidr, ctx.existingCidrsInSubscription, ctx.resourceId));
    }
  }

  if (current) {
    const defaulted: Array<[string, unknown, unknown, unknown]> = [
      ['datacenter', field(raw, ['properties', 'datacenter']), current.properties.datacenter, DEFAULT_DATACENTER],
      ['publicEndpoint', field(raw, ['properties', 'publicEndpoint']), current.properties.publicEndpoint, DEFAULT_PUBLIC_ENDPOINT],
    ];
    for (const [name, given, stored, fallback] of defaulted) {
      const target = `properties.${name}`;
      if (!usable(target) || !isPlainObject(field(raw, ['properties']))) continue;
      const requested = given ?? fallback;
      if (requested !== stored) {
        const note = given === undefined || given === null ? ' (the default when omitted)' : '';
        problems.push(immutableFieldProblem(target, stored, requested, note));
      }
    }
  }
  return problems;
}

function provisioningStateProblems(echoed: unknown, stored: string | undefined): ErrorDetail[] {
  if (echoed === undefined || echoed === null || stored === undefined) return [];
  if (typeof echoed === 'string' && echoed.toLowerCase() === stored.toLowerCase()) return [];
  return [
    detail(
      'InvalidProvisioningState',
      `properties.provisioningState is read-only: the cluster is ${describeValue(stored)}, the request says ${describeValue(echoed)}; omit it or send the current value`,
      'properties.provisioningState',
    ),
  ];
}

/** Drops fields a client may legitimately echo from a GET, remembering provisioningState to compare. */
export function stripReadOnly(body: unknown, readOnlyProperties: readonly string[]): { rest: unknown; echoedState: unknown } {
  if (!isPlainObject(body)) return { rest: body, echoedState: undefined };
  const rest: Record<string, unknown> = { ...body };
  for (const name of READ_ONLY_TOP_LEVEL_FIELDS) delete rest[name];
  const properties = rest.properties;
  if (!isPlainObject(properties)) return { rest, echoedState: undefined };
  const props: Record<string, unknown> = { ...properties };
  const echoedState = props.provisioningState;
  for (const name of ['provisioningState', ...readOnlyProperties]) delete props[name];
  rest.properties = props;
  return { rest, echoedState };
}

/**
 * The version a body asks for: the one it names; when it names none, the stored one for a
 * replace (PUT never changes the version, see consulVersionChangeProblem) or the catalogue's
 * default for a create.
 */
function version(body: ParsedClusterBody, ctx: ValidationContext): string | undefined {
  return body.properties.consulVersion ?? ctx.currentSpec?.properties.consulVersion ?? ctx.defaultConsulVersion;
}

function noDefaultVersionProblem(ctx: ValidationContext): ErrorDetail {
  return detail(
    'MissingField',
    `properties.consulVersion is required: the version catalogue has no recommended or available version to default to; supported versions: ${ctx.knownConsulVersions.join(', ') || 'none'}`,
    'properties.consulVersion',
  );
}

function withDefaults(body: ParsedClusterBody, consulVersion: string | undefined): ClusterSpec {
  const p = body.properties;
  const properties: ClusterProperties = {
    // validateClusterBody reports a missing version (noDefaultVersionProblem) before this runs.
    consulVersion: consulVersion!,
    serverCount: p.serverCount ?? DEFAULT_SERVER_COUNT,
    datacenter: p.datacenter ?? DEFAULT_DATACENTER,
    network: { cidr: p.network.cidr },
    publicEndpoint: p.publicEndpoint ?? DEFAULT_PUBLIC_ENDPOINT,
    upgradePolicy: { automaticPatchUpgrades: p.upgradePolicy?.automaticPatchUpgrades ?? DEFAULT_AUTOMATIC_PATCH_UPGRADES },
    snapshotPolicy: {
      intervalHours: p.snapshotPolicy?.intervalHours ?? DEFAULT_SNAPSHOT_INTERVAL_HOURS,
      retentionCount: p.snapshotPolicy?.retentionCount ?? DEFAULT_SNAPSHOT_RETENTION_COUNT,
    },
  };
  if (p.maintenanceWindow) properties.maintenanceWindow = { ...p.maintenanceWindow, days: [...p.maintenanceWindow.days] };
  const spec: ClusterSpec = { location: normalizeLocation(body.location), properties };
  if (body.tags) spec.tags = Object.fromEntries(Object.entries(body.tags));
  return spec;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, path: readonly string[]): unknown {
  let node = value;
  for (const key of path) {
    if (!isPlainObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

/**
 * The overlap rule's problems for a new cluster's `cidr`: one per other cluster of the
 * subscription whose range overlaps it (`others` may hold every cluster or only the overlapping
 * ones; the cluster itself, `resourceId`, is skipped).
 */
export function cidrOverlapProblems(cidr: string, others: readonly SubscriptionCidr[], resourceId?: string): ErrorDetail[] {
  const self = resourceId?.toLowerCase();
  return findCidrOverlaps(cidr, others, (id) => id.toLowerCase() === self).map((other) => {
    const problem = overlapProblem(cidr, other);
    return detail(problem.code, `properties.network.cidr ${problem.message}`, 'properties.network.cidr');
  });
}

/** A body's properties.network.cidr when it is a valid IPv4 CIDR (what the overlap rule reads the store for). */
export function requestedCidr(raw: unknown): string | undefined {
  const cidr = field(raw, ['properties', 'network', 'cidr']);
  return typeof cidr === 'string' && parseIpv4Cidr(cidr).ok ? cidr : undefined;
}
