// The context-free shape of a cluster body: types, ranges and formats. Rules that need the
// subscription or the stored resource (versions on offer, CIDR overlap, immutability) live in
// cluster-spec.ts. Optional fields accept null as "not set", as ARM clients send either.
import { z } from 'zod';
import { checkClusterCidr } from './cidr.js';
import { isValidTimeZone, MAX_WINDOW_HOURS, MIN_WINDOW_HOURS, WEEKDAYS } from './maintenance-window.js';
import { SERVER_COUNTS } from './server-count.js';
import type { FieldCatalogue, IssueParams } from './spec-issues.js';
import { parseVersion, VERSION_FORMAT } from './versions.js';
import { describeValue } from './errors.js';

export const MAX_TAGS = 50;
export const MAX_TAG_NAME_LENGTH = 512;
export const MAX_TAG_VALUE_LENGTH = 256;
export const MIN_SNAPSHOT_INTERVAL_HOURS = 1;
export const MAX_SNAPSHOT_INTERVAL_HOURS = 24;
export const MIN_SNAPSHOT_RETENTION = 1;
export const MAX_SNAPSHOT_RETENTION = 30;

const LOCATION = /^[a-z0-9]{1,40}$/;
// The datacenter appears in DNS names (server.<dc>.consul), so it must be one RFC 1123 label.
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const START_TIME = /^(?:[01]\d|2[0-3]):[0-5]\d$/;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

/** ARM compares locations ignoring case and spaces: 'West Europe' and 'westeurope' are one region. */
export function normalizeLocation(value: string): string {
  return value.replace(/\s+/g, '').toLowerCase();
}

function custom(ctx: z.RefinementCtx, code: string, message: string, path: PropertyKey[] = []): void {
  const params: IssueParams = { code };
  ctx.addIssue({ code: 'custom', message, params, path });
}

function checkTags(tags: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const names = Object.keys(tags);
  if (names.length > MAX_TAGS) custom(ctx, 'TooManyTags', `must have at most ${MAX_TAGS} entries; got ${names.length}`);
  const seen = new Map<string, string>();
  for (const name of names) {
    const value = tags[name];
    if (name.length === 0 || name.length > MAX_TAG_NAME_LENGTH || TAG_NAME_FORBIDDEN.test(name)) {
      custom(
        ctx,
        'InvalidTagName',
        `is not a valid tag name: names must be 1-${MAX_TAG_NAME_LENGTH} characters without < > % & \\ ? /; got ${describeValue(name.slice(0, 64))}`,
        [name],
      );
    }
    const folded = name.toLowerCase();
    const earlier = seen.get(folded);
    if (earlier !== undefined) {
      custom(ctx, 'DuplicateTagName', `duplicates tag ${describeValue(earlier)}: tag names are case-insensitive`, [name]);
    }
    seen.set(folded, name);
    if (typeof value !== 'string' || value.length > MAX_TAG_VALUE_LENGTH) {
      const got = typeof value === 'string' ? `${value.length} characters` : (JSON.stringify(value) ?? 'nothing');
      custom(ctx, 'InvalidTagValue', `must be a string of at most ${MAX_TAG_VALUE_LENGTH} characters; got ${got}`, [name]);
    }
  }
}

function checkUniqueDays(days: readonly string[], ctx: z.RefinementCtx): void {
  const repeated = days.filter((day, i) => days.indexOf(day) !== i);
  if (repeated.length > 0) {
    custom(ctx, 'InvalidMaintenanceDays', `must list each day at most once; repeated: ${[...new Set(repeated)].join(', ')}`);
  }
}

function checkCidr(cidr: string, ctx: z.RefinementCtx): void {
  for (const problem of checkClusterCidr(cidr)) custom(ctx, problem.code, problem.message);
}

const networkSchema = z.strictObject({ cidr: z.string().superRefine(checkCidr) });

const upgradePolicySchema = z.strictObject({ automaticPatchUpgrades: z.boolean().nullish() });

const maintenanceWindowSchema = z.strictObject({
  days: z.array(z.enum(WEEKDAYS)).min(1).max(WEEKDAYS.length).superRefine(checkUniqueDays),
  startTime: z.string().regex(START_TIME),
  durationHours: z.number().int().min(MIN_WINDOW_HOURS).max(MAX_WINDOW_HOURS),
  timeZone: z.string().refine(isValidTimeZone),
});

const snapshotPolicySchema = z.strictObject({
  intervalHours: z.number().int().min(MIN_SNAPSHOT_INTERVAL_HOURS).max(MAX_SNAPSHOT_INTERVAL_HOURS).nullish(),
  retentionCount: z.number().int().min(MIN_SNAPSHOT_RETENTION).max(MAX_SNAPSHOT_RETENTION).nullish(),
});

const MAX_FEDERATION_TOKEN = 4096;

const propertiesSchema = z.strictObject({
  consulVersion: z
    .string()
    .refine((v) => parseVersion(v) !== undefined)
    .nullish(),
  serverCount: z.literal(SERVER_COUNTS).nullish(),
  datacenter: z.string().regex(DNS_LABEL).nullish(),
  network: networkSchema,
  publicEndpoint: z.boolean().nullish(),
  upgradePolicy: upgradePolicySchema.nullish(),
  maintenanceWindow: maintenanceWindowSchema.nullish(),
  snapshotPolicy: snapshotPolicySchema.nullish(),
  // Opened and checked by the API (apps/api/src/service/federation.ts); never stored.
  federationToken: z.string().min(1).max(MAX_FEDERATION_TOKEN).nullish(),
});

export const clusterBodySchema = z.strictObject({
  location: z.string().refine((v) => LOCATION.test(normalizeLocation(v))),
  tags: z
    .record(z.string(), z.unknown())
    .superRefine(checkTags)
    .transform((tags) => tags as Record<string, string>)
    .nullish(),
  properties: propertiesSchema,
});

export type ParsedClusterBody = z.output<typeof clusterBodySchema>;

const boolean = 'true or false';
const days = WEEKDAYS.join(', ');

export const clusterFieldCatalogue: FieldCatalogue = {
  fields: {
    '': { code: 'InvalidRequestContent', allowed: 'a JSON object with location and properties' },
    location: {
      code: 'InvalidLocation',
      allowed: 'an Azure region name such as "westeurope" (letters and digits, 1-40 characters; spaces are ignored)',
    },
    tags: { code: 'InvalidTags', allowed: 'an object mapping tag names to string values' },
    properties: { code: 'InvalidProperties', allowed: 'an object with network (consulVersion and the rest optional)' },
    'properties.consulVersion': { code: 'InvalidConsulVersion', allowed: VERSION_FORMAT },
    'properties.serverCount': { code: 'InvalidServerCount', allowed: SERVER_COUNTS.join(', ').replace(/, (\d+)$/, ' or $1') },
    'properties.datacenter': {
      code: 'InvalidDatacenter',
      allowed: 'a DNS label of 1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit',
    },
    'properties.network': { code: 'InvalidNetwork', allowed: 'an object with a cidr such as {"cidr": "10.0.0.0/16"}' },
    'properties.network.cidr': { code: 'InvalidCidr', allowed: 'an IPv4 CIDR such as "10.0.0.0/16"' },
    'properties.publicEndpoint': { code: 'InvalidPublicEndpoint', allowed: boolean },
    'properties.upgradePolicy': { code: 'InvalidUpgradePolicy', allowed: 'an object such as {"automaticPatchUpgrades": true}' },
    'properties.upgradePolicy.automaticPatchUpgrades': { code: 'InvalidUpgradePolicy', allowed: boolean },
    'properties.maintenanceWindow': {
      code: 'InvalidMaintenanceWindow',
      allowed: 'an object with days, startTime, durationHours and timeZone',
    },
    'properties.maintenanceWindow.days': {
      code: 'InvalidMaintenanceDays',
      allowed: `a list of 1 to 7 different days out of ${days}`,
    },
    'properties.maintenanceWindow.days[]': { code: 'InvalidMaintenanceDays', allowed: `one of ${days}` },
    'properties.maintenanceWindow.startTime': {
      code: 'InvalidStartTime',
      allowed: 'a 24-hour time HH:MM from 00:00 to 23:59, such as "02:00"',
    },
    'properties.maintenanceWindow.durationHours': {
      code: 'InvalidDurationHours',
      allowed: `a whole number of hours from ${MIN_WINDOW_HOURS} to ${MAX_WINDOW_HOURS}`,
    },
    'properties.maintenanceWindow.timeZone': {
      code: 'InvalidTimeZone',
      allowed: 'an IANA time zone name such as "Europe/Berlin" or "UTC"',
    },
    'properties.federationToken': {
      code: 'InvalidFederationToken',
      allowed: `the token createFederationToken returned for the primary cluster (1 to ${MAX_FEDERATION_TOKEN} characters)`,
    },
    'properties.snapshotPolicy': {
      code: 'InvalidSnapshotPolicy',
      allowed: 'an object with intervalHours and retentionCount',
    },
    'properties.snapshotPolicy.intervalHours': {
      code: 'InvalidSnapshotInterval',
      allowed: `a whole number of hours from ${MIN_SNAPSHOT_INTERVAL_HOURS} to ${MAX_SNAPSHOT_INTERVAL_HOURS}`,
    },
    'properties.snapshotPolicy.retentionCount': {
      code: 'InvalidSnapshotRetention',
      allowed: `a whole number from ${MIN_SNAPSHOT_RETENTION} to ${MAX_SNAPSHOT_RETENTION}`,
    },
  },
  objects: {
    '': Object.keys(clusterBodySchema.shape),
    properties: Object.keys(propertiesSchema.shape),
    'properties.network': Object.keys(networkSchema.shape),
    'properties.upgradePolicy': Object.keys(upgradePolicySchema.shape),
    'properties.maintenanceWindow': Object.keys(maintenanceWindowSchema.shape),
    'properties.snapshotPolicy': Object.keys(snapshotPolicySchema.shape),
  },
};
