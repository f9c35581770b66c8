import { describe, expect, it } from 'vitest';
import { parseClusterBody, type ValidationContext } from './cluster-spec.js';
import { codesAndTargets, validationErrorFrom } from './test-support.js';

// Maintenance windows, tags and replacing an existing cluster; the other body rules are in cluster-spec.test.ts.

const OTHER = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/HCS.Consul/clusters/other';

const ctx: ValidationContext = {
  knownConsulVersions: ['1.16.2', '1.17.0'],
  existingCidrsInSubscription: [{ resourceId: OTHER, cidr: '10.1.0.0/16' }],
};

function body(properties: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { location: 'westeurope', ...top, properties: { consulVersion: '1.16.2', network: { cidr: '10.2.0.0/16' }, ...properties } };
}

const errorOf = (input: unknown, context: ValidationContext = ctx) => validationErrorFrom(() => parseClusterBody(input, context));
const codesOf = (input: unknown, context: ValidationContext = ctx) => codesAndTargets(errorOf(input, context));

describe('parseClusterBody: maintenance window', () => {
  const window = { days: ['Monday'], startTime: '02:00', durationHours: 4, timeZone: 'America/New_York' };
  it('accepts a valid window', () => {
    expect(parseClusterBody(body({ maintenanceWindow: window }), ctx).properties.maintenanceWindow).toEqual(window);
  });
  it.each([
    [{ days: [] }, 'InvalidMaintenanceDays@properties.maintenanceWindow.days'],
    [{ days: ['Monday', 'monday'] }, 'InvalidMaintenanceDays@properties.maintenanceWindow.days[1]'],
    [{ days: ['Monday', 'Monday'] }, 'InvalidMaintenanceDays@properties.maintenanceWindow.days'],
    [{ startTime: '2:00' }, 'InvalidStartTime@properties.maintenanceWindow.startTime'],
    [{ startTime: '24:00' }, 'InvalidStartTime@properties.maintenanceWindow.startTime'],
    [{ durationHours: 0 }, 'InvalidDurationHours@properties.maintenanceWindow.durationHours'],
    [{ durationHours: 9 }, 'InvalidDurationHours@properties.maintenanceWindow.durationHours'],
    [{ durationHours: 1.5 }, 'InvalidDurationHours@properties.maintenanceWindow.durationHours'],
    [{ timeZone: 'Mars/Olympus_Mons' }, 'InvalidTimeZone@properties.maintenanceWindow.timeZone'],
    [{ timeZone: '+02:00' }, 'InvalidTimeZone@properties.maintenanceWindow.timeZone'],
    [{ timeZone: undefined }, 'MissingField@properties.maintenanceWindow.timeZone'],
  ])('refuses %j', (change, expected) => {
    expect(codesOf(body({ maintenanceWindow: { ...window, ...change } }))).toEqual([expected]);
  });
  it('says which days repeat and which time zones are allowed', () => {
    expect(errorOf(body({ maintenanceWindow: { ...window, days: ['Monday', 'Friday', 'Monday'] } })).message).toBe(
      'properties.maintenanceWindow.days must list each day at most once; repeated: Monday',
    );
    expect(errorOf(body({ maintenanceWindow: { ...window, timeZone: 'CET+1' } })).message).toBe(
      'properties.maintenanceWindow.timeZone must be an IANA time zone name such as "Europe/Berlin" or "UTC"; got "CET+1"',
    );
  });
});

describe('parseClusterBody: tags', () => {
  const tagged = (tags: unknown) => body({}, { tags });
  it('accepts 50 tags with names of 512 and values of 256 characters', () => {
    const tags = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${i}`.padEnd(512, 'k'), 'v'.repeat(256)]));
    expect(Object.keys(parseClusterBody(tagged(tags), ctx).tags ?? {})).toHaveLength(50);
  });
  it('refuses 51 tags', () => {
    const tags = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`t${i}`, 'v']));
    const error = errorOf(tagged(tags));
    expect(codesAndTargets(error)).toEqual(['TooManyTags@tags']);
    expect(error.message).toBe('tags must have at most 50 entries; got 51');
  });
  it.each(['a<b', 'a>b', 'a%b', 'a&b', 'a\\b', 'a?b', 'a/b', '', 'k'.repeat(513)])('refuses the tag name %j', (name) => {
    const [detail] = errorOf(tagged({ [name]: 'v' })).details;
    expect(detail?.code).toBe('InvalidTagName');
  });
  it('targets a tag by a bracketed path when its name is not an identifier', () => {
    expect(codesOf(tagged({ 'a/b': 'v' }))).toEqual(["InvalidTagName@tags['a/b']"]);
  });
  it('refuses non-string and over-long values, and names that differ only in case', () => {
    expect(codesOf(tagged({ a: 1, b: 'v'.repeat(257), Env: 'x', env: 'y' }))).toEqual([
      'InvalidTagValue@tags.a',
      'InvalidTagValue@tags.b',
      'DuplicateTagName@tags.env',
    ]);
  });
  it('refuses tags that are not an object', () => {
    expect(codesOf(tagged(['a']))).toEqual(['InvalidTags@tags']);
  });
});

describe('parseClusterBody: replacing an existing cluster (PUT with currentSpec)', () => {
  const current = parseClusterBody(body({ datacenter: 'east', publicEndpoint: true }), ctx);
  const update: ValidationContext = {
    ...ctx,
    knownConsulVersions: ['1.17.0'],
    currentSpec: current,
    allowedLocations: ['northeurope'],
    existingCidrsInSubscription: [{ resourceId: OTHER, cidr: '10.2.0.0/16' }],
  };
  const same = (properties: Record<string, unknown> = {}, top: Record<string, unknown> = {}) =>
    body({ datacenter: 'east', publicEndpoint: true, ...properties }, top);

  it('accepts the same immutable values even if the version left the catalogue', () => {
    expect(parseClusterBody(same({ serverCount: 5 }, { location: 'West Europe' }), update).properties.serverCount).toBe(5);
  });

  it('refuses a different consulVersion and points to the upgrade action', () => {
    const error = errorOf(same({ consulVersion: '1.17.0' }), update);
    expect(codesAndTargets(error)).toEqual(['PropertyChangeNotAllowed@properties.consulVersion']);
    expect(error.message).toBe(
      'properties.consulVersion cannot be changed by PUT or PATCH: it is "1.16.2", the request asks for "1.17.0"; use the \'upgrade\' action (POST .../clusters/{clusterName}/upgrade with {"consulVersion": "1.17.0"})',
    );
  });

  it('refuses changes to location, cidr, datacenter and publicEndpoint', () => {
    const error = errorOf(body({ network: { cidr: '10.3.0.0/16' } }, { location: 'northeurope' }), update);
    expect(codesAndTargets(error)).toEqual([
      'PropertyChangeNotAllowed@location',
      'PropertyChangeNotAllowed@properties.network.cidr',
      'PropertyChangeNotAllowed@properties.datacenter',
      'PropertyChangeNotAllowed@properties.publicEndpoint',
    ]);
    expect(error.details[2]?.message).toBe(
      'properties.datacenter cannot be changed after the cluster is created: it is "east", the request asks for "dc1" (the default when omitted); create a new cluster to use a different value',
    );
  });

  it('refuses an echoed provisioningState that differs from the stored one', () => {
    const stored = { ...update, currentProvisioningState: 'Succeeded' };
    expect(parseClusterBody(same({ provisioningState: 'succeeded' }), stored).properties.serverCount).toBe(3);
    const error = errorOf(same({ provisioningState: 'Failed' }), stored);
    expect(codesAndTargets(error)).toEqual(['InvalidProvisioningState@properties.provisioningState']);
  });
});
