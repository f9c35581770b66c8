// The audit log's $filter subset and the names requests are recorded under (audit.ts).
import { describe, expect, it } from 'vitest';
import { parseAuditFilter } from './audit-filter.js';
import { auditAction, auditResource, isAudited } from './audit.js';
import { ApiError } from './errors.js';
import { rpcRoutes } from './contract.js';

const refused = (text: string): ApiError => {
  try {
    parseAuditFilter(text);
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error(`${text} was accepted`);
};

describe('parseAuditFilter', () => {
  it('reads every supported condition joined by and, names and operators in any case', () => {
    expect(
      parseAuditFilter(
        "eventTimestamp ge '2026-12-01T00:00:00Z' and EVENTTIMESTAMP LE '2026-12-02T10:00:00.5+01:00' and resourceId eq '/subscriptions/s/x' " +
          "and caller eq 'user:o''brien' And action eq 'HCS.Consul/clusters/write'",
      ),
    ).toEqual({
      from: '2026-12-01T00:00:00Z',
      to: '2026-12-02T10:00:00.5+01:00',
      resourceId: '/subscriptions/s/x',
      caller: "user:o'brien",
      action: 'HCS.Consul/clusters/write',
    });
    expect(parseAuditFilter(undefined)).toEqual({});
    expect(parseAuditFilter('  ')).toEqual({});
    expect(parseAuditFilter("resourceId eq 'a and b'")).toEqual({ resourceId: 'a and b' });
  });

  for (const [text, says] of [
    ["resourceId ne 'x'", '"resourceId" cannot be compared with "ne"'],
    ["status eq 'Failed'", '"status" is not a field'],
    ["caller eq 'a' or caller eq 'b'", "expected 'and' or the end"],
    ["(caller eq 'a')", 'expected a condition'],
    ["not caller eq 'a'", 'expected a condition'],
    ['caller eq a', 'expected a condition'],
    ["caller eq 'a", 'expected a condition'],
    ["caller eq 'a' and", 'expected a condition'],
    ["caller eq 'a' and caller eq 'b'", 'caller is given twice'],
    ["eventTimestamp ge '2026-12-01'", 'not an RFC 3339 time'],
    ["eventTimestamp ge 'yesterday'", 'not an RFC 3339 time'],
    ["eventTimestamp eq '2026-12-01T00:00:00Z'", 'cannot be compared with "eq"'],
    [
      "eventTimestamp ge '2026-12-02T00:00:00Z' and eventTimestamp le '2026-12-01T00:00:00Z'",
      'ends (2026-12-01T00:00:00Z) before it starts',
    ],
    ["action eq ''", 'action eq needs a value'],
  ] as const) {
    it(`refuses ${text} with a 400 InvalidFilter naming the problem`, () => {
      const err = refused(text);
      expect(err).toMatchObject({ httpStatus: 400, code: 'InvalidFilter', target: '$filter' });
      expect(err.message).toContain(says);
      expect(err.message).toContain("supported: eventTimestamp ge '<time>'");
    });
  }
});

describe('what a request is recorded as', () => {
  const route = (name: string) => rpcRoutes().find((r) => r.method.name === name)!;
  const values = (v: Record<string, string>) => (f: string) => v[f];
  const path = { subscription_id: 'SUB-1', resource_group: 'rg', cluster_name: 'c1', location: 'westeurope', operation_id: 'op-1' };

  it('every verb but GET is recorded', () => {
    const audited = rpcRoutes()
      .filter(isAudited)
      .map((r) => r.method.name);
    expect(audited).toContain('CreateOrReplaceCluster');
    expect(audited).toContain('DeleteCluster');
    expect(audited).toContain('CancelOperation');
    expect(audited).not.toContain('GetCluster');
    expect(audited).not.toContain('ListAuditLogs');
  });

  it('actions follow the provider operation names; the resource is the path without a POST action', () => {
    expect(auditAction(route('CreateOrReplaceCluster'))).toBe('HCS.Consul/clusters/write');
    expect(auditAction(route('UpdateCluster'))).toBe('HCS.Consul/clusters/write');
    expect(auditAction(route('DeleteCluster'))).toBe('HCS.Consul/clusters/delete');
    expect(auditAction(route('CreateSnapshot'))).toBe('HCS.Consul/clusters/createSnapshot/action');
    expect(auditAction(route('CancelOperation'))).toBe('HCS.Consul/operations/cancel/action');
    expect(auditAction(route('PutSubscription'))).toBe('HCS.Consul/subscriptions/write');
    expect(auditAction(route('NotifyResource'))).toBe('HCS.Consul/resourceNotifications/action');
    expect(auditResource(route('CreateSnapshot'), values(path))).toEqual({
      subscriptionId: 'sub-1',
      resourceId: '/subscriptions/SUB-1/resourceGroups/rg/providers/HCS.Consul/clusters/c1',
    });
    expect(auditResource(route('CancelOperation'), values(path)).resourceId).toBe(
      '/subscriptions/SUB-1/providers/HCS.Consul/locations/westeurope/operationStatuses/op-1',
    );
    expect(auditResource(route('NotifyResource'), values(path))).toEqual({ subscriptionId: null, resourceId: '/resource' });
  });
});
