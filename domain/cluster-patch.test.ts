import { describe, expect, it } from 'vitest';
import { changedFields, mergePatch, parseClusterPatch, sameJson } from './cluster-patch.js';
import { parseClusterBody, type ValidationContext } from './cluster-spec.js';
import { codesAndTargets, validationErrorFrom } from './test-support.js';

const ctx: ValidationContext = { knownConsulVersions: ['1.16.2', '1.17.0'], existingCidrsInSubscription: [] };
const current = parseClusterBody(
  {
    location: 'westeurope',
    tags: { env: 'prod', team: 'core' },
    properties: {
      consulVersion: '1.16.2',
      network: { cidr: '10.2.0.0/16' },
      snapshotPolicy: { intervalHours: 6, retentionCount: 10 },
      maintenanceWindow: { days: ['Sunday'], startTime: '02:00', durationHours: 4, timeZone: 'Europe/Berlin' },
    },
  },
  ctx,
);
const patch = (body: unknown) => parseClusterPatch(body, current, ctx);
const errorOf = (body: unknown) => validationErrorFrom(() => patch(body));

describe('parseClusterPatch: allowed changes', () => {
  it('an empty patch changes nothing', () => {
    expect(patch({})).toEqual(current);
  });

  it('replaces the whole tag set, and null removes all tags', () => {
    expect(patch({ tags: { owner: 'sre' } }).tags).toEqual({ owner: 'sre' });
    expect(patch({ tags: null })).not.toHaveProperty('tags');
  });

  it('changes serverCount', () => {
    const next = patch({ properties: { serverCount: 5 } });
    expect(next.properties.serverCount).toBe(5);
    expect(changedFields(current, next)).toEqual(['properties.serverCount']);
  });

  it('merges nested policies and resets a removed member to its default', () => {
    expect(patch({ properties: { snapshotPolicy: { retentionCount: 20 } } }).properties.snapshotPolicy).toEqual({
      intervalHours: 6,
      retentionCount: 20,
    });
    expect(patch({ properties: { snapshotPolicy: { intervalHours: null } } }).properties.snapshotPolicy).toEqual({
      intervalHours: 1,
      retentionCount: 10,
    });
    expect(patch({ properties: { upgradePolicy: { automaticPatchUpgrades: false } } }).properties.upgradePolicy).toEqual({
      automaticPatchUpgrades: false,
    });
  });

  it('edits the maintenance window in place, replaces its days, and null removes it', () => {
    const next = patch({ properties: { maintenanceWindow: { startTime: '03:30', days: ['Saturday', 'Sunday'] } } });
    expect(next.properties.maintenanceWindow).toEqual({
      days: ['Saturday', 'Sunday'],
      startTime: '03:30',
      durationHours: 4,
      timeZone: 'Europe/Berlin',
    });
    expect(patch({ properties: { maintenanceWindow: null } }).properties).not.toHaveProperty('maintenanceWindow');
  });

  it('accepts immutable fields sent back unchanged, and read-only envelope fields', () => {
    const next = patch({
      id: '/x',
      name: 'x',
      location: 'West Europe',
      properties: { consulVersion: '1.16.2', network: { cidr: '10.2.0.0/16' }, datacenter: 'dc1', publicEndpoint: false, serverCount: 1 },
    });
    expect(next.properties.serverCount).toBe(1);
    expect(changedFields(current, next)).toEqual(['properties.serverCount']);
  });
});

describe('parseClusterPatch: refusals', () => {
  it('refuses a consulVersion change and points to the upgrade action', () => {
    const error = errorOf({ properties: { consulVersion: '1.17.0' } });
    expect(codesAndTargets(error)).toEqual(['PropertyChangeNotAllowed@properties.consulVersion']);
    expect(error.message).toContain(
      'use the \'upgrade\' action (POST .../clusters/{clusterName}/upgrade with {"consulVersion": "1.17.0"})',
    );
  });

  it.each([
    [{ location: 'northeurope' }, 'PropertyChangeNotAllowed@location'],
    [{ properties: { network: { cidr: '10.3.0.0/16' } } }, 'PropertyChangeNotAllowed@properties.network'],
    [{ properties: { network: null } }, 'PropertyChangeNotAllowed@properties.network'],
    [{ properties: { datacenter: 'dc2' } }, 'PropertyChangeNotAllowed@properties.datacenter'],
    [{ properties: { publicEndpoint: true } }, 'PropertyChangeNotAllowed@properties.publicEndpoint'],
    [{ properties: { serverCount: 2 } }, 'InvalidServerCount@properties.serverCount'],
    [{ properties: { snapshotPolicy: { retentionCount: 0 } } }, 'InvalidSnapshotRetention@properties.snapshotPolicy.retentionCount'],
    [{ properties: { snapshotPolicy: { keep: 3 } } }, 'UnknownField@properties.snapshotPolicy.keep'],
    [{ properties: { maintenanceWindow: { timeZone: 'Nowhere/Land' } } }, 'InvalidTimeZone@properties.maintenanceWindow.timeZone'],
    [{ properties: { maintenanceWindow: { timeZone: null } } }, 'MissingField@properties.maintenanceWindow.timeZone'],
    [{ properties: { nodes: 3 } }, 'UnknownField@properties.nodes'],
    [{ sku: 'big' }, 'UnknownField@sku'],
    [{ tags: { 'a<b': 'x' } }, "InvalidTagName@tags['a<b']"],
    [{ properties: 'serverCount=5' }, 'InvalidProperties@properties'],
    [{ properties: null }, 'InvalidProperties@properties'],
    ['serverCount=5', 'InvalidRequestContent@'],
  ])('%j -> %s', (body, expected) => {
    expect(codesAndTargets(errorOf(body))).toEqual([expected]);
  });

  it('says which fields PATCH can change', () => {
    expect(errorOf({ properties: { nodes: 3 } }).message).toBe(
      'properties.nodes cannot be set by PATCH: it is not a known field; fields PATCH can change here: serverCount, upgradePolicy, maintenanceWindow, snapshotPolicy',
    );
  });

  it('refuses a partial window when the cluster has none', () => {
    const bare = parseClusterBody(
      { location: 'westeurope', properties: { consulVersion: '1.16.2', network: { cidr: '10.2.0.0/16' } } },
      ctx,
    );
    const error = validationErrorFrom(() => parseClusterPatch({ properties: { maintenanceWindow: { startTime: '01:00' } } }, bare, ctx));
    expect(codesAndTargets(error)).toEqual([
      'MissingField@properties.maintenanceWindow.days',
      'MissingField@properties.maintenanceWindow.durationHours',
      'MissingField@properties.maintenanceWindow.timeZone',
    ]);
  });

  it('reports every problem at once', () => {
    const error = errorOf({ location: 'eastus', properties: { consulVersion: '1.17.0', serverCount: 4 } });
    expect(error.code).toBe('InvalidRequestContent');
    expect(codesAndTargets(error)).toEqual([
      'PropertyChangeNotAllowed@location',
      'PropertyChangeNotAllowed@properties.consulVersion',
      'InvalidServerCount@properties.serverCount',
    ]);
  });

  it('refuses an echoed provisioningState that is not the stored one', () => {
    const error = validationErrorFrom(() =>
      parseClusterPatch({ properties: { provisioningState: 'Deleting' } }, current, { ...ctx, currentProvisioningState: 'Succeeded' }),
    );
    expect(codesAndTargets(error)).toEqual(['InvalidProvisioningState@properties.provisioningState']);
  });
});

describe('mergePatch', () => {
  it('follows RFC 7386', () => {
    expect(mergePatch({ a: 'b', c: { d: 'e', f: 'g' } }, { a: 'z', c: { f: null } })).toEqual({ a: 'z', c: { d: 'e' } });
    expect(mergePatch({ a: [1, 2] }, { a: [3] })).toEqual({ a: [3] });
    expect(mergePatch('x', { a: 1 })).toEqual({ a: 1 });
    expect(mergePatch({ a: 1 }, null)).toBeUndefined();
    expect(mergePatch({ a: 1 }, 'text')).toBe('text');
  });
});

describe('changedFields and sameJson', () => {
  it('ignores tag order and lists each changed field', () => {
    const reordered = { ...current, tags: { team: 'core', env: 'prod' } };
    expect(changedFields(current, reordered)).toEqual([]);
    const next = { ...current, tags: {}, properties: { ...current.properties, publicEndpoint: true } };
    expect(changedFields(current, next)).toEqual(['tags', 'properties.publicEndpoint']);
    expect(sameJson({ a: 1, b: undefined }, { a: 1 })).toBe(true);
    expect(sameJson([1, 2], [2, 1])).toBe(false);
  });
});
