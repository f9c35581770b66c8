// The field limits: every string of every request has one, the refusal names the field as REST
// does and quotes a short prefix, and REST bodies beyond the contract are bounded too.
import { ScalarType, type DescMessage } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { isValidationError, type ErrorDetail } from '../../../domain/errors.js';
import { rpcRoutes } from './contract.js';
import { checkFieldLimits, DEFAULT_MAX_LENGTH, mapLimitsOf, maxLengthOf, quote } from './field-limits.js';

const route = (handler: string) => rpcRoutes().find((r) => r.handler === handler)!;

function problems(fn: () => void): ErrorDetail[] {
  try {
    fn();
  } catch (err) {
    if (isValidationError(err)) return err.details;
    throw err;
  }
  return [];
}

describe('limits', () => {
  it('gives every string field of every request message a limit', () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    const visit = (m: DescMessage) => {
      if (seen.has(m.typeName) || m.typeName.startsWith('google.protobuf.')) return;
      seen.add(m.typeName);
      for (const f of m.fields) {
        const isString =
          (f.fieldKind === 'scalar' || (f.fieldKind === 'list' && f.listKind === 'scalar')) && f.scalar === ScalarType.STRING;
        if (isString && maxLengthOf(f) === undefined) missing.push(`${m.typeName}.${f.name}`);
        if (f.fieldKind === 'map' && mapLimitsOf(f) === undefined) missing.push(`${m.typeName}.${f.name}`);
        if (f.message) visit(f.message);
      }
    };
    for (const r of rpcRoutes()) visit(r.method.input);
    expect(seen.size).toBeGreaterThan(20);
    expect(missing).toEqual([]);
  });

  it('uses the ARM limits for names and tags', () => {
    const create = route('createOrReplaceCluster').method.input;
    const field = (m: DescMessage, name: string) => m.fields.find((f) => f.name === name)!;
    expect(maxLengthOf(field(create, 'subscription_id'))).toBe(36);
    expect(maxLengthOf(field(create, 'resource_group'))).toBe(90);
    expect(maxLengthOf(field(create, 'cluster_name'))).toBe(48);
    const cluster = field(create, 'cluster').message!;
    expect(mapLimitsOf(field(cluster, 'tags'))).toEqual({ key: 512, value: 256 });
    expect(maxLengthOf(field(cluster, 'name'))).toBe(DEFAULT_MAX_LENGTH);
  });
});

describe('checkFieldLimits', () => {
  const big = 'y'.repeat(40_000);
  const base = { subscriptionId: '00000000-0000-0000-0000-000000000001', resourceGroup: 'rg', clusterName: 'c1' };

  it('names path variables, headers and body fields as REST does, quoting 40 characters', () => {
    const found = problems(() =>
      checkFieldLimits(route('createOrReplaceCluster'), {
        ...base,
        resourceGroup: 'r'.repeat(91),
        ifMatch: big,
        cluster: { tags: { [big]: 'v', ok: big }, properties: { maintenanceWindow: { days: ['Monday', big] } } },
      }),
    );
    expect(found.map((d) => d.target).sort()).toEqual(
      ['If-Match', 'properties.maintenanceWindow.days[1]', 'resourceGroupName', 'tags', 'tags.ok'].sort(),
    );
    for (const d of found) {
      expect(d.code).toBe('InvalidParameter');
      expect(d.message.length).toBeLessThan(200);
      expect(d.message).not.toContain('y'.repeat(41));
    }
    expect(found.find((d) => d.target === 'resourceGroupName')?.message).toContain('91 characters long; at most 90');
  });

  it('counts characters, not UTF-16 units, as ARM does for names', () => {
    expect(problems(() => checkFieldLimits(route('getCluster'), { ...base, resourceGroup: '𝔯'.repeat(90) }))).toEqual([]);
    expect(problems(() => checkFieldLimits(route('getCluster'), { ...base, resourceGroup: '𝔯'.repeat(91) }))).toHaveLength(1);
  });

  it('bounds what the contract does not describe in a REST body: strings, keys and depth', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100; i++) deep = [deep];
    const found = problems(() =>
      checkFieldLimits(route('createOrReplaceCluster'), { ...base, cluster: { properties: { color: big, [big]: 1 }, extra: deep } }),
    );
    expect(found.map((d) => d.target)).toEqual(expect.arrayContaining(['properties.color', 'properties']));
    expect(found.some((d) => d.code === 'InvalidRequestContent' && d.target?.startsWith('extra'))).toBe(true);
  });

  it('reports at most ten problems and accepts what is within the limits', () => {
    const days = Array.from({ length: 50 }, () => big);
    expect(
      problems(() =>
        checkFieldLimits(route('createOrReplaceCluster'), { ...base, cluster: { properties: { maintenanceWindow: { days } } } }),
      ),
    ).toHaveLength(10);
    expect(problems(() => checkFieldLimits(route('getBillingReport'), { ...base, month: '2026-01' }))).toEqual([]);
  });
});

it('quotes at most 40 characters', () => {
  expect(quote('short')).toBe('"short"');
  expect(quote('z'.repeat(100))).toBe(`${JSON.stringify('z'.repeat(40))}...`);
  expect(quote('😀'.repeat(50))).toBe(`${JSON.stringify('😀'.repeat(40))}...`);
});
