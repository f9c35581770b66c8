// LintDiff, offline: the ARM rules of the Azure OpenAPI validator run against the committed
// OpenAPI document, and any error-level finding fails the test.
//
// LintDiff runs autorest with the @microsoft.azure/openapi-validator plugin, which downloads
// extensions at run time (impossible here). That plugin only wires two rule engines into
// autorest, and both are npm packages, so this file repeats its wiring for an ARM spec
// (openapi-type arm, production run) without autorest:
//  - Spectral rules: @microsoft.azure/openapi-validator-rulesets `spectralRulesets.azARM` (which
//    extends az-common) in @stoplight/spectral-core, severity "recommended", with the
//    staging-only rules disabled as in a production run (spectral-plugin-func.ts getRulesets);
//  - native rules: all `nativeRulesets` merged and run by @microsoft.azure/openapi-validator-core
//    `lint` with OpenApiTypes.arm (openapi-validator-plugin-func.ts).
import core, { type IRuleSet, type RulesObject } from '@microsoft.azure/openapi-validator-core';
import rulesets from '@microsoft.azure/openapi-validator-rulesets';
import { Document, Ruleset, Spectral } from '@stoplight/spectral-core';
import { Json as JsonParser } from '@stoplight/spectral-parsers';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OPENAPI_FILE } from '../../apps/api/src/openapi/generate.js';

/**
 * Rules switched off, with the reason. Keep this list short: every entry is a rule LintDiff
 * would enforce in azure-rest-api-specs.
 */
const DISABLED_RULES: Record<string, string> = {
  // These three only check that a $ref string points into the external common-types file
  // (".../common-types/resource-management/vN/types.json#/definitions/..."). Our document is
  // self-contained on purpose (generated, committed, usable by oav and SDK generators without
  // a checkout of azure-rest-api-specs), so systemData, ErrorResponse and the Operations API
  // models are local copies of the common-types shapes (apps/api/src/openapi/common-types.ts).
  // Re-enable them if the document is ever submitted to azure-rest-api-specs with $refs to
  // common-types.
  SystemDataDefinitionsCommonTypes: 'checks the $ref target file, not the shape; systemData is a local copy of common-types',
  LroErrorContent: 'checks the $ref target file, not the shape; ErrorResponse is a local copy of common-types',
  OperationsApiSchemaUsesCommonTypes: 'checks the $ref target file, not the shape; OperationListResult is a local copy of common-types',
  // Its regex wants the first namespace segment in Pascal case ("Hcs"); our namespace HCS.Consul
  // is fixed by the contract (domain/resource-id.ts PROVIDER_NAMESPACE, every proto path, the
  // `type` of every resource). Renaming the provider is a product decision, not a lint fix.
  PathResourceProviderNamePascalCase: 'the provider namespace HCS.Consul is given; the rule wants "Hcs"',
};

/**
 * Findings suppressed at one place only (LintDiff's `suppressions: code/where` in a spec's
 * readme.md): the rule stays on everywhere else.
 */
const SUPPRESSIONS: Array<{ rule: string; where: RegExp; reason: string }> = [
  // The native rules take every model a GET answers with for a resource. These are the async
  // operation status document (common-types OperationStatusResult: id, name, status, ...; no
  // `type`), a list of them, and the Operations API list; in azure-rest-api-specs they are
  // $refs into common-types, which the rules skip.
  ...['OperationStatusResult', 'OperationStatusResultListResult', 'OperationListResult'].map((model) => ({
    rule: 'RequiredPropertiesMissingInResourceModel',
    where: new RegExp(`^definitions\\.${model}$`),
    reason: `${model} is no resource (it has no type); common-types equivalent`,
  })),
  {
    rule: 'BodyTopLevelProperties',
    where: /^definitions\.OperationStatusResult$/,
    reason: 'the status document has the common-types OperationStatusResult top-level fields (status, startTime, ...)',
  },
];

interface Finding {
  rule: string;
  severity: 'error' | 'warning' | 'info';
  message: string;
  path: string;
}

type SpectralPayload = { rules: Record<string, unknown>; extends?: SpectralPayload[] };

function spectralRuleset(): Ruleset {
  const payload = rulesets.spectralRulesets.azARM as SpectralPayload;
  const stagingOnly = rulesets.getNamesOfRulesInPayloadWithPropertySetToTrue(payload, 'stagingOnly');
  // The payload is a module singleton; the plugin strips these keys from it the same way.
  rulesets.deleteRulesPropertiesInPayloadNotValidForSpectralRules(payload);
  const ruleset = new Ruleset(payload, { severity: 'recommended' });
  rulesets.disableRulesInRuleset(ruleset, stagingOnly);
  rulesets.disableRulesInRuleset(ruleset, Object.keys(DISABLED_RULES));
  return ruleset;
}

function nativeRuleset(): IRuleSet {
  const rules: RulesObject = {};
  for (const set of Object.values(rulesets.nativeRulesets) as IRuleSet[]) Object.assign(rules, set.rules);
  for (const name of Object.keys(DISABLED_RULES)) delete rules[name];
  return { documentationUrl: '', rules };
}

/** Runs both engines on an OpenAPI file, as LintDiff does for an ARM spec. */
async function lintArm(file: string): Promise<Finding[]> {
  // With its path, so the x-ms-examples files it references resolve beside it, as in a spec folder.
  const document = new Document(readFileSync(file, 'utf8'), JsonParser, file);
  const spectral = new Spectral();
  spectral.setRuleset(spectralRuleset());
  const severities = ['error', 'warning', 'info', 'info'] as const;
  const findings: Finding[] = (await spectral.run(document)).map((r) => ({
    rule: String(r.code),
    severity: severities[r.severity] ?? 'info',
    message: r.message,
    path: r.path.join('.'),
  }));
  const native = await core.lint([file], { ruleSet: nativeRuleset(), openapiType: core.OpenApiTypes.arm });
  for (const m of native) {
    findings.push({
      rule: m.code,
      severity: m.type === 'error' ? 'error' : 'warning',
      message: m.message,
      path: [m.jsonpath].flat().join('.'),
    });
  }
  return findings
    .filter((f) => !SUPPRESSIONS.some((x) => x.rule === f.rule && x.where.test(f.path)))
    .sort((a, b) => `${a.rule}${a.path}`.localeCompare(`${b.rule}${b.path}`));
}

const show = (fs: Finding[]) => fs.map((f) => `${f.severity} ${f.rule} at ${f.path}: ${f.message}`);

describe('LintDiff ARM rules on the OpenAPI document', () => {
  const committed = join(import.meta.dirname, '..', '..', OPENAPI_FILE);
  const scratch = mkdtempSync(join(tmpdir(), 'hcs-lintdiff-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it(`${OPENAPI_FILE} has no error-level finding`, async () => {
    const findings = await lintArm(committed);
    const warnings = findings.filter((f) => f.severity !== 'error');
    if (warnings.length) console.log(`LintDiff warnings (${warnings.length}):\n${show(warnings).join('\n')}`);
    expect(show(findings.filter((f) => f.severity === 'error'))).toEqual([]);
  });

  it('catches a broken document (the linter really runs)', async () => {
    const doc = JSON.parse(readFileSync(committed, 'utf8')) as {
      paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>>;
    };
    const put = Object.values(doc.paths)
      .flatMap((p) => Object.values(p))
      .find((op) => op.operationId === 'Clusters_CreateOrUpdate');
    expect(put?.responses['201']).toBeDefined();
    delete put!.responses['201'];
    const broken = join(scratch, 'broken.json');
    writeFileSync(broken, JSON.stringify(doc, null, 2));
    const errors = (await lintArm(broken)).filter((f) => f.severity === 'error').map((f) => f.rule);
    expect(errors).toContain('PutResponseCodes');
  });
});
