// Turns zod issues into ARM error details. zod's own messages ("Invalid input") name neither
// the field nor what is allowed, so every field has a rule here with a stable code and a
// description of its allowed values; checks that know better attach their own code.
import type { z } from 'zod';
import { describeValue, detail, type ErrorDetail, INVALID_REQUEST_CONTENT, jsonPath } from './errors.js';

export interface FieldRule {
  code: string;
  /** Completes "<field> must be ...", e.g. `1, 3 or 5`. */
  allowed: string;
}

export interface FieldCatalogue {
  /** Rules by field pattern: JSON path with array indexes written `[]`; '' is the body. */
  fields: Readonly<Record<string, FieldRule>>;
  /** Writable field names of each object, by the object's pattern, to list in UnknownField messages. */
  objects: Readonly<Record<string, readonly string[]>>;
}

/** Params a check attaches to a custom issue; its message completes "<field> ...". */
export interface IssueParams {
  code: string;
}

export function issuesToDetails(issues: readonly z.core.$ZodIssue[], catalogue: FieldCatalogue): ErrorDetail[] {
  return issues.flatMap((issue) => issueToDetails(issue, catalogue));
}

/**
 * Targets of issues that make a field's value unusable, so later checks on that field (or
 * anything under it) are skipped instead of piling up follow-on errors. Unknown fields do
 * not make their parent unusable.
 */
export function failedTargets(issues: readonly z.core.$ZodIssue[]): Set<string> {
  return new Set(issues.filter((issue) => issue.code !== 'unrecognized_keys').map((issue) => jsonPath(keyPath(issue.path))));
}

export function isUnder(target: string, failed: ReadonlySet<string>): boolean {
  for (const t of failed) {
    if (t === '' || target === t || target.startsWith(`${t}.`) || target.startsWith(`${t}[`)) return true;
  }
  return false;
}

export function patternOf(path: ReadonlyArray<string | number>): string {
  return jsonPath(path).replace(/\[\d+\]/g, '[]');
}

function issueToDetails(issue: z.core.$ZodIssue, catalogue: FieldCatalogue): ErrorDetail[] {
  const path = keyPath(issue.path);
  const target = jsonPath(path);
  const label = target === '' ? 'the request body' : target;
  const targetOrNone = target === '' ? undefined : target;

  if (issue.code === 'unrecognized_keys') {
    const known = catalogue.objects[patternOf(path)] ?? [];
    return issue.keys.map((key) => {
      const field = jsonPath([...path, key]);
      const near = known.find((name) => name.toLowerCase() === key.toLowerCase());
      const hint = near ? `did you mean '${near}'? ` : '';
      return detail('UnknownField', `${field} is not a known field; ${hint}allowed fields in ${label}: ${known.join(', ')}`, field);
    });
  }

  const params = issue.code === 'custom' ? (issue.params as Partial<IssueParams> | undefined) : undefined;
  if (params?.code) return [detail(params.code, `${label} ${issue.message}`, targetOrNone)];

  const rule = catalogue.fields[patternOf(path)];
  if (issue.code === 'invalid_type' && issue.input === undefined && target !== '') {
    const expected = rule ? `; it must be ${rule.allowed}` : '';
    return [detail('MissingField', `${target} is required${expected}`, target)];
  }
  if (rule) return [detail(rule.code, `${label} must be ${rule.allowed}; got ${describeValue(issue.input)}`, targetOrNone)];
  return [detail(INVALID_REQUEST_CONTENT, `${label}: ${issue.message}`, targetOrNone)];
}

function keyPath(path: readonly PropertyKey[]): Array<string | number> {
  return path.map((segment) => (typeof segment === 'symbol' ? String(segment) : segment));
}
