// The `$filter` of the audit log route: a small OData subset, conditions joined by `and`:
//   eventTimestamp ge '<RFC 3339 time>'   eventTimestamp le '<RFC 3339 time>'
//   resourceId eq '<id>'   caller eq '<caller>'   action eq '<action>'
// Values are single-quoted ('' inside stands for one quote); names and operators are matched
// without regard to case. Anything else - another field or operator, `or`, `not`, parentheses, a
// condition given twice, a time that is not RFC 3339, a range that ends before it starts - is a
// 400 InvalidFilter naming what was wrong.
import { badRequest } from './errors.js';
import { quote } from './field-limits.js';

export interface AuditFilter {
  /** RFC 3339 times as given (inclusive; the store compares them to the microsecond). */
  from?: string;
  to?: string;
  resourceId?: string;
  caller?: string;
  action?: string;
}

const FIELDS: Record<string, { key: keyof AuditFilter | 'time'; ops: readonly string[] }> = {
  eventtimestamp: { key: 'time', ops: ['ge', 'le'] },
  resourceid: { key: 'resourceId', ops: ['eq'] },
  caller: { key: 'caller', ops: ['eq'] },
  action: { key: 'action', ops: ['eq'] },
};

const SUPPORTED =
  "supported: eventTimestamp ge '<time>', eventTimestamp le '<time>', resourceId eq '<id>', caller eq '<caller>' and action eq '<action>', joined by 'and'";

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i;

const invalid = (message: string) => badRequest('InvalidFilter', `$filter: ${message}; ${SUPPORTED}.`, '$filter');

export function parseAuditFilter(text: string | undefined): AuditFilter {
  const filter: AuditFilter = {};
  if (text === undefined || text.trim() === '') return filter;
  const condition = /^\s*([A-Za-z]+)\s+([A-Za-z]+)\s+'((?:[^']|'')*)'\s*/;
  let rest = text;
  for (let first = true; ; first = false) {
    if (!first) {
      const and = /^and(?:\s+|$)/i.exec(rest);
      if (!and) throw invalid(`expected 'and' or the end at ${quote(rest)}`);
      rest = rest.slice(and[0].length);
    }
    const m = condition.exec(rest);
    if (!m) throw invalid(`expected a condition (name operator 'value') at ${quote(rest)}`);
    rest = rest.slice(m[0].length);
    const [, name, op, raw] = m as unknown as [string, string, string, string];
    const field = FIELDS[name.toLowerCase()];
    if (!field) throw invalid(`${quote(name)} is not a field that can be filtered on`);
    const operator = op.toLowerCase();
    if (!field.ops.includes(operator)) throw invalid(`${quote(name)} cannot be compared with ${quote(op)}`);
    const value = raw.replace(/''/g, "'");
    if (field.key === 'time') {
      const time = Date.parse(value);
      if (!RFC3339.test(value) || Number.isNaN(time))
        throw invalid(`${quote(value)} is not an RFC 3339 time such as '2026-12-01T00:00:00Z'`);
      const key = operator === 'ge' ? 'from' : 'to';
      if (filter[key] !== undefined) throw invalid(`eventTimestamp ${operator} is given twice`);
      filter[key] = value;
    } else {
      if (filter[field.key] !== undefined) throw invalid(`${field.key} is given twice`);
      if (value === '') throw invalid(`${field.key} eq needs a value`);
      filter[field.key] = value;
    }
    if (rest.trim() === '') break;
  }
  if (filter.from && filter.to && Date.parse(filter.from) > Date.parse(filter.to))
    throw invalid(`the range ends (${filter.to}) before it starts (${filter.from})`);
  return filter;
}
