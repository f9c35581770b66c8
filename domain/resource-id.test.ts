import { describe, expect, it } from 'vitest';
import {
  checkClusterName,
  checkResourceGroupName,
  checkSubscriptionId,
  formatClusterResourceId,
  isValidClusterName,
  isValidResourceGroupName,
  isValidSubscriptionId,
  parseClusterResourceId,
  parseWorkflowId,
  resourceKey,
  workflowIdFor,
} from './resource-id.js';
import { codesAndTargets, validationErrorFrom } from './test-support.js';

const SUB = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
const ID = `/subscriptions/${SUB}/resourceGroups/My-RG/providers/HCS.Consul/clusters/prod-1`;

describe('parseClusterResourceId', () => {
  it('parses a canonical id and keeps the supplied casing of values', () => {
    expect(parseClusterResourceId(ID)).toEqual({ subscriptionId: SUB, resourceGroup: 'My-RG', clusterName: 'prod-1' });
  });

  it('matches fixed segments in any casing', () => {
    const id = `/SUBSCRIPTIONS/${SUB}/resourcegroups/My-RG/PROVIDERS/hcs.consul/Clusters/prod-1`;
    expect(parseClusterResourceId(id).resourceGroup).toBe('My-RG');
  });

  it('round-trips through format', () => {
    expect(formatClusterResourceId(parseClusterResourceId(ID))).toBe(ID);
  });

  it.each([
    ['missing leading slash', ID.slice(1)],
    ['trailing slash', `${ID}/`],
    ['wrong provider', ID.replace('HCS.Consul', 'Microsoft.Compute')],
    ['wrong type', ID.replace('/clusters/', '/servers/')],
    ['child resource', `${ID}/snapshots/s1`],
    ['empty', ''],
  ])('refuses an id with %s as InvalidResourceId', (_, id) => {
    const error = validationErrorFrom(() => parseClusterResourceId(id));
    expect(codesAndTargets(error)).toEqual(['InvalidResourceId@id']);
    expect(error.message).toContain(
      '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/HCS.Consul/clusters/{clusterName}',
    );
  });

  it('reports every bad part at once', () => {
    const error = validationErrorFrom(() =>
      parseClusterResourceId('/subscriptions/not-a-guid/resourceGroups/rg./providers/HCS.Consul/clusters/9lives'),
    );
    expect(codesAndTargets(error)).toEqual([
      'InvalidSubscriptionId@subscriptionId',
      'InvalidResourceGroupName@resourceGroupName',
      'InvalidClusterName@clusterName',
    ]);
    expect(error.code).toBe('InvalidRequestContent');
  });

  it('resolves an upper-case name on lookup but refuses it on create', () => {
    const id = ID.replace('prod-1', 'Prod-1');
    expect(parseClusterResourceId(id).clusterName).toBe('Prod-1');
    const error = validationErrorFrom(() => parseClusterResourceId(id, { creating: true }));
    expect(codesAndTargets(error)).toEqual(['InvalidClusterName@clusterName']);
    expect(error.message).toContain('contains upper-case letters: "Prod-1"');
  });
});

describe('resourceKey', () => {
  it('is the lower-cased canonical id and idempotent', () => {
    const key = resourceKey(ID);
    expect(key).toBe(`/subscriptions/${SUB.toLowerCase()}/resourcegroups/my-rg/providers/hcs.consul/clusters/prod-1`);
    expect(resourceKey(key)).toBe(key);
    expect(resourceKey(ID.toUpperCase().replace('PROD-1', 'prod-1'))).toBe(key);
    expect(resourceKey({ subscriptionId: SUB, resourceGroup: 'MY-rg', clusterName: 'prod-1' })).toBe(key);
  });
});

describe('subscription id', () => {
  it('accepts GUIDs in either case', () => {
    expect(isValidSubscriptionId(SUB)).toBe(true);
    expect(isValidSubscriptionId(SUB.toLowerCase())).toBe(true);
  });
  it.each([
    '',
    '3F2504E0-4F89-11D3-9A0C-0305E82C330',
    '{3F2504E0-4F89-11D3-9A0C-0305E82C3301}',
    '3F2504E04F8911D39A0C0305E82C3301',
    'zF2504E0-4F89-11D3-9A0C-0305E82C3301',
  ])('refuses %j', (value) => {
    expect(checkSubscriptionId(value)).toEqual([expect.objectContaining({ code: 'InvalidSubscriptionId', target: 'subscriptionId' })]);
  });
});

describe('resource group name', () => {
  it.each(['a', 'rg_1-(test).x', 'x'.repeat(90), 'Ressourcengruppe-Müller'])('accepts %j', (value) => {
    expect(isValidResourceGroupName(value)).toBe(true);
  });
  it('refuses a name over 90 characters', () => {
    expect(checkResourceGroupName('x'.repeat(91))[0]?.message).toBe(
      'resourceGroupName must be 1-90 characters of letters, digits, underscores, hyphens, periods and parentheses, not ending in a period; it has 91 characters',
    );
  });
  it.each([
    ['', 'has 0 characters'],
    ['rg.', 'ends in a period: "rg."'],
    ['rg/x', 'contains a character outside that set in "rg/x"'],
    ['rg x', 'contains a character outside that set in "rg x"'],
  ])('refuses %j: %s', (value, problem) => {
    const [d] = checkResourceGroupName(value);
    expect(d?.code).toBe('InvalidResourceGroupName');
    expect(d?.message.endsWith(problem)).toBe(true);
  });
});

describe('cluster name', () => {
  it.each(['abc', 'prod-east-1', `a${'b'.repeat(47)}`])('accepts %j', (value) => {
    expect(isValidClusterName(value)).toBe(true);
  });
  it.each([
    ['ab', 'has 2 characters'],
    [`a${'b'.repeat(48)}`, 'has 49 characters'],
    ['1abc', 'does not start with a letter: "1abc"'],
    ['-abc', 'does not start with a letter: "-abc"'],
    ['abc-', 'ends with a hyphen: "abc-"'],
    ['ab_c', 'contains a character outside that set: "ab_c"'],
    ['ab.c', 'contains a character outside that set: "ab.c"'],
    ['Abc', 'contains upper-case letters: "Abc"'],
  ])('refuses %j: %s', (value, problem) => {
    const [d] = checkClusterName(value);
    expect(d?.code).toBe('InvalidClusterName');
    expect(d?.target).toBe('clusterName');
    expect(d?.message).toBe(
      `clusterName must be 3-48 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen; it ${problem}`,
    );
  });
});

describe('workflow ids', () => {
  it('is cluster/<resourceKey>/<kind>/<operationId>, without a double slash', () => {
    const id = workflowIdFor(ID, 'create', 'op-123');
    expect(id).toBe(`cluster/subscriptions/${SUB.toLowerCase()}/resourcegroups/my-rg/providers/hcs.consul/clusters/prod-1/create/op-123`);
    expect(workflowIdFor(resourceKey(ID), 'create', 'op-123')).toBe(id);
  });

  it('refuses an operation id that would break the structure', () => {
    expect(() => workflowIdFor(ID, 'scale', '')).toThrow(RangeError);
    expect(() => workflowIdFor(ID, 'scale', 'a/b')).toThrow("operationId must be non-empty and contain no '/'");
    expect(() => workflowIdFor(ID, 'resize' as never, 'x')).toThrow('operation kind must be one of create, update');
  });

  it('parses back what it made and nothing else', () => {
    const id = workflowIdFor(ID, 'upgrade', '7c9e6679-7425-40de-944b-e07fc1f90ae7');
    expect(parseWorkflowId(id)).toEqual({
      resourceKey: resourceKey(ID),
      kind: 'upgrade',
      operationId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
    });
    expect(parseWorkflowId('cluster/foo/create/x')).toBeUndefined();
    expect(parseWorkflowId(id.replace('/upgrade/', '/explode/'))).toBeUndefined();
    expect(parseWorkflowId(id.replace('prod-1', 'PROD-1'))).toBeUndefined();
    expect(parseWorkflowId('temporal-sys-scheduler')).toBeUndefined();
  });
});
