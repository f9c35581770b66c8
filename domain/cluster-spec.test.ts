import { describe, expect, it } from 'vitest';
import { type ClusterSpec, parseClusterBody, type ValidationContext } from './cluster-spec.js';
import { codesAndTargets, validationErrorFrom } from './test-support.js';

const OTHER = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/HCS.Consul/clusters/other';
const SELF = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/HCS.Consul/clusters/self';

const ctx: ValidationContext = {
  knownConsulVersions: ['1.16.2', '1.17.0'],
  existingCidrsInSubscription: [{ resourceId: OTHER, cidr: '10.1.0.0/16' }],
};

function body(properties: Record<string, unknown> = {}, top: Record<string, unknown> = {}): Record<string, unknown> {
  return { location: 'westeurope', ...top, properties: { consulVersion: '1.16.2', network: { cidr: '10.2.0.0/16' }, ...properties } };
}

const errorOf = (input: unknown, context: ValidationContext = ctx) => validationErrorFrom(() => parseClusterBody(input, context));
const codesOf = (input: unknown, context: ValidationContext = ctx) => codesAndTargets(errorOf(input, context));

describe('parseClusterBody: defaults', () => {
  it('applies every default to a minimal body', () => {
    expect(parseClusterBody(body(), ctx)).toEqual({
      location: 'westeurope',
      properties: {
        consulVersion: '1.16.2',
        serverCount: 3,
        datacenter: 'dc1',
        network: { cidr: '10.2.0.0/16' },
        publicEndpoint: false,
        upgradePolicy: { automaticPatchUpgrades: true },
        snapshotPolicy: { intervalHours: 1, retentionCount: 8 },
      },
    } satisfies ClusterSpec);
  });

  it('gives a create without consulVersion the catalogue default, and a replace the stored version', () => {
    const withDefault: ValidationContext = { ...ctx, defaultConsulVersion: '1.17.0' };
    const omitted = body();
    delete (omitted.properties as Record<string, unknown>).consulVersion;
    expect(parseClusterBody(omitted, withDefault).properties.consulVersion).toBe('1.17.0');
    expect(parseClusterBody(body({ consulVersion: null }), withDefault).properties.consulVersion).toBe('1.17.0');
    // A named version wins over the default.
    expect(parseClusterBody(body(), withDefault).properties.consulVersion).toBe('1.16.2');
    // A replace that leaves it out keeps what the cluster has: PUT never changes the version.
    const current = parseClusterBody(body(), ctx);
    expect(parseClusterBody(omitted, { ...withDefault, currentSpec: current }).properties.consulVersion).toBe('1.16.2');
  });

  it('refuses a create without consulVersion when the catalogue has no version to default to', () => {
    const omitted = body();
    delete (omitted.properties as Record<string, unknown>).consulVersion;
    const error = errorOf(omitted, ctx);
    expect(codesAndTargets(error)).toEqual(['MissingField@properties.consulVersion']);
    expect(error.details[0]?.message).toBe(
      'properties.consulVersion is required: the version catalogue has no recommended or available version to default to; supported versions: 1.16.2, 1.17.0',
    );
  });

  it('keeps given values, treats null as not set and fills partial policies', () => {
    const spec = parseClusterBody(
      body(
        {
          serverCount: 5,
          datacenter: null,
          publicEndpoint: true,
          upgradePolicy: {},
          snapshotPolicy: { retentionCount: 30 },
          maintenanceWindow: { days: ['Saturday', 'Sunday'], startTime: '02:00', durationHours: 4, timeZone: 'Europe/Berlin' },
        },
        { tags: { env: 'prod', 'cost center': '42' } },
      ),
      ctx,
    );
    expect(spec.properties.serverCount).toBe(5);
    expect(spec.properties.datacenter).toBe('dc1');
    expect(spec.properties.publicEndpoint).toBe(true);
    expect(spec.properties.upgradePolicy).toEqual({ automaticPatchUpgrades: true });
    expect(spec.properties.snapshotPolicy).toEqual({ intervalHours: 1, retentionCount: 30 });
    expect(spec.properties.maintenanceWindow?.days).toEqual(['Saturday', 'Sunday']);
    expect(spec.tags).toEqual({ env: 'prod', 'cost center': '42' });
  });

  it('normalises the location and ignores read-only fields echoed from a GET', () => {
    const spec = parseClusterBody(
      body(
        { provisioningState: 'Succeeded' },
        { location: 'West Europe', id: SELF, name: 'self', type: 'HCS.Consul/clusters', systemData: {} },
      ),
      ctx,
    );
    expect(spec.location).toBe('westeurope');
    expect(spec.properties).not.toHaveProperty('provisioningState');
    expect(spec).not.toHaveProperty('id');
  });

  it('accepts extra read-only properties the API declares', () => {
    const input = body({ endpoints: { private: 'x' } });
    expect(codesOf(input)).toEqual(['UnknownField@properties.endpoints']);
    expect(parseClusterBody(input, { ...ctx, readOnlyProperties: ['endpoints'] }).properties).not.toHaveProperty('endpoints');
  });
});

describe('parseClusterBody: each rule', () => {
  it.each([
    [
      'serverCount 4',
      body({ serverCount: 4 }),
      'InvalidServerCount@properties.serverCount',
      'properties.serverCount must be 1, 3 or 5; got 4',
    ],
    [
      'serverCount "3"',
      body({ serverCount: '3' }),
      'InvalidServerCount@properties.serverCount',
      'properties.serverCount must be 1, 3 or 5; got "3"',
    ],
    [
      'bad version format',
      body({ consulVersion: 'v1.16' }),
      'InvalidConsulVersion@properties.consulVersion',
      'properties.consulVersion must be a version MAJOR.MINOR.PATCH such as "1.16.2"; got "v1.16"',
    ],
    [
      'unknown version',
      body({ consulVersion: '1.15.0' }),
      'UnsupportedConsulVersion@properties.consulVersion',
      'properties.consulVersion 1.15.0 is not offered; supported versions: 1.16.2, 1.17.0',
    ],
    [
      'upper-case datacenter',
      body({ datacenter: 'DC1' }),
      'InvalidDatacenter@properties.datacenter',
      'properties.datacenter must be a DNS label of 1-63 lower-case letters, digits and hyphens, starting and ending with a letter or digit; got "DC1"',
    ],
    ['datacenter ending in hyphen', body({ datacenter: 'dc-' }), 'InvalidDatacenter@properties.datacenter', undefined],
    ['64-char datacenter', body({ datacenter: 'd'.repeat(64) }), 'InvalidDatacenter@properties.datacenter', undefined],
    [
      'publicEndpoint "yes"',
      body({ publicEndpoint: 'yes' }),
      'InvalidPublicEndpoint@properties.publicEndpoint',
      'properties.publicEndpoint must be true or false; got "yes"',
    ],
    [
      'malformed cidr',
      body({ network: { cidr: '10.2.0.0' } }),
      'InvalidCidr@properties.network.cidr',
      'properties.network.cidr must be an IPv4 CIDR such as "10.0.0.0/16"; got "10.2.0.0"',
    ],
    [
      'cidr with host bits',
      body({ network: { cidr: '10.2.3.0/16' } }),
      'CidrHostBitsSet@properties.network.cidr',
      'properties.network.cidr must have all host bits zero: 10.2.3.0/16 has bits set after the first 16; did you mean 10.2.0.0/16?',
    ],
    ['public cidr', body({ network: { cidr: '172.32.0.0/16' } }), 'CidrNotPrivate@properties.network.cidr', undefined],
    ['cidr too big', body({ network: { cidr: '10.0.0.0/8' } }), 'CidrPrefixOutOfRange@properties.network.cidr', undefined],
    [
      'overlapping cidr',
      body({ network: { cidr: '10.1.128.0/24' } }),
      'CidrOverlap@properties.network.cidr',
      `properties.network.cidr 10.1.128.0/24 overlaps 10.1.0.0/16 of cluster ${OTHER}; clusters in one subscription need distinct address ranges, choose one that does not overlap`,
    ],
    [
      'network as string',
      body({ network: '10.2.0.0/16' }),
      'InvalidNetwork@properties.network',
      'properties.network must be an object with a cidr such as {"cidr": "10.0.0.0/16"}; got "10.2.0.0/16"',
    ],
    [
      'unknown field',
      body({ nodes: 3 }),
      'UnknownField@properties.nodes',
      'properties.nodes is not a known field; allowed fields in properties: consulVersion, serverCount, datacenter, network, publicEndpoint, upgradePolicy, maintenanceWindow, snapshotPolicy, federationToken',
    ],
    [
      'mis-cased field',
      body({}, { Tags: {} }),
      'UnknownField@Tags',
      "Tags is not a known field; did you mean 'tags'? allowed fields in the request body: location, tags, properties",
    ],
    [
      'nested unknown field',
      body({ network: { cidr: '10.2.0.0/16', subnet: 'x' } }),
      'UnknownField@properties.network.subnet',
      'properties.network.subnet is not a known field; allowed fields in properties.network: cidr',
    ],
    [
      'missing consulVersion with no catalogue default',
      { location: 'westeurope', properties: { network: { cidr: '10.2.0.0/16' } } },
      'MissingField@properties.consulVersion',
      'properties.consulVersion is required: the version catalogue has no recommended or available version to default to; supported versions: 1.16.2, 1.17.0',
    ],
    ['missing location', { properties: body().properties }, 'MissingField@location', undefined],
    ['bad location', body({}, { location: 'west-europe' }), 'InvalidLocation@location', undefined],
    ['41-char location', body({}, { location: 'a'.repeat(41) }), 'InvalidLocation@location', undefined],
    [
      'boolean upgrade policy',
      body({ upgradePolicy: { automaticPatchUpgrades: 'on' } }),
      'InvalidUpgradePolicy@properties.upgradePolicy.automaticPatchUpgrades',
      undefined,
    ],
    [
      'snapshot every 0 h',
      body({ snapshotPolicy: { intervalHours: 0 } }),
      'InvalidSnapshotInterval@properties.snapshotPolicy.intervalHours',
      'properties.snapshotPolicy.intervalHours must be a whole number of hours from 1 to 24; got 0',
    ],
    [
      'snapshot every 25 h',
      body({ snapshotPolicy: { intervalHours: 25 } }),
      'InvalidSnapshotInterval@properties.snapshotPolicy.intervalHours',
      undefined,
    ],
    [
      'retention 31',
      body({ snapshotPolicy: { retentionCount: 31 } }),
      'InvalidSnapshotRetention@properties.snapshotPolicy.retentionCount',
      'properties.snapshotPolicy.retentionCount must be a whole number from 1 to 30; got 31',
    ],
    [
      'retention 2.5',
      body({ snapshotPolicy: { retentionCount: 2.5 } }),
      'InvalidSnapshotRetention@properties.snapshotPolicy.retentionCount',
      undefined,
    ],
    [
      'body not an object',
      [],
      'InvalidRequestContent@',
      'the request body must be a JSON object with location and properties; got an empty list',
    ],
  ])('%s', (_, input, expected, message) => {
    const error = errorOf(input);
    expect(codesAndTargets(error)).toEqual([expected]);
    expect(error.code).toBe(expected.split('@')[0]);
    if (message !== undefined) expect(error.message).toBe(message);
  });

  it('checks the location against allowedLocations ignoring case and spaces', () => {
    const allowed = { ...ctx, allowedLocations: ['westeurope', 'East US'] };
    expect(parseClusterBody(body({}, { location: 'EastUS' }), allowed).location).toBe('eastus');
    const error = errorOf(body({}, { location: 'North Europe' }), allowed);
    expect(codesAndTargets(error)).toEqual(['LocationNotAvailableForResourceType@location']);
    expect(error.message).toBe('location "North Europe" is not available for clusters; available locations: westeurope, East US');
  });

  it('does not count the cluster itself as an overlap', () => {
    const withSelf = { ...ctx, resourceId: SELF.toUpperCase(), existingCidrsInSubscription: [{ resourceId: SELF, cidr: '10.2.0.0/16' }] };
    expect(parseClusterBody(body(), withSelf).properties.network.cidr).toBe('10.2.0.0/16');
  });

  it('names every overlapping cluster', () => {
    const two = { ...ctx, existingCidrsInSubscription: [...ctx.existingCidrsInSubscription, { resourceId: SELF, cidr: '10.0.0.0/16' }] };
    const error = errorOf(body({ network: { cidr: '10.0.0.0/15' } }), two);
    expect(codesAndTargets(error)).toEqual(['CidrPrefixOutOfRange@properties.network.cidr']);
    const overlapping = errorOf(body({ network: { cidr: '10.1.0.0/24' } }), two);
    expect(overlapping.details.map((d) => d.message.includes(OTHER))).toEqual([true]);
  });
});
describe('parseClusterBody: reports everything at once', () => {
  it('collects structural and contextual problems in one error', () => {
    const error = errorOf({
      location: 'Mars!',
      extra: true,
      tags: { 'a?': 'x' },
      properties: {
        consulVersion: '1.99.0',
        serverCount: 2,
        network: { cidr: '10.1.0.0/16' },
        snapshotPolicy: { intervalHours: 48 },
      },
    });
    expect(error.code).toBe('InvalidRequestContent');
    expect(codesAndTargets(error)).toEqual([
      'InvalidLocation@location',
      "InvalidTagName@tags['a?']",
      'InvalidServerCount@properties.serverCount',
      'InvalidSnapshotInterval@properties.snapshotPolicy.intervalHours',
      'UnknownField@extra',
      'UnsupportedConsulVersion@properties.consulVersion',
      'CidrOverlap@properties.network.cidr',
    ]);
    expect(error.message.startsWith('The request content has 7 problems: ')).toBe(true);
  });
});
