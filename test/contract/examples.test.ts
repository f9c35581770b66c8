// Issue 16, item 5: every operation of the OpenAPI document has at least one x-ms-examples file
// (apps/api/src/openapi/examples/, ARM's layout), and every example conforms to the document:
// its parameters are the operation's (all required ones present, each value valid), its
// responses are status codes the operation declares, with a body exactly when the code has a
// schema, valid against it (objects closed, as ARM's model validation reads them), and headers
// the code declares. The whole document (with the example files it references) is also validated
// against the Swagger 2.0 schema by @apidevtools/swagger-parser.
import SwaggerParser from '@apidevtools/swagger-parser';
import { describe, expect, it } from 'vitest';
import { OPENAPI_PATH } from '../../apps/api/src/openapi/document-file.js';
import { loadExamples, type ExampleFile } from '../../apps/api/src/openapi/examples.js';
import { generateOpenApi } from '../../apps/api/src/openapi/generate.js';
import { DocumentSchemas, type OpenApiDocument, type Operation } from './openapi-schemas.js';

const doc = generateOpenApi() as unknown as OpenApiDocument;
const schemas = new DocumentSchemas(doc);
const examples = loadExamples();
const operations = Object.values(doc.paths).flatMap((verbs) => Object.values(verbs));

/** Everything wrong with one example of an operation ([] when it conforms). */
function exampleErrors(op: Operation, example: Pick<ExampleFile, 'parameters' | 'responses'>): string[] {
  const errors: string[] = [];
  const declared = op.parameters.map((p) => schemas.parameter(p));
  for (const p of declared) {
    const value = example.parameters[p.name];
    if (value === undefined) {
      if (p.required) errors.push(`parameter ${p.name}: required, missing`);
      continue;
    }
    const problems = p.in === 'body' ? schemas.errors(p.schema!, value, 'request') : schemas.simpleErrors(p, value);
    errors.push(...problems.map((e) => `parameter ${p.name}: ${e}`));
  }
  for (const name of Object.keys(example.parameters)) {
    if (!declared.some((p) => p.name === name)) errors.push(`parameter ${name}: not a parameter of ${op.operationId}`);
  }
  for (const [code, response] of Object.entries(example.responses)) {
    const spec = op.responses[code];
    if (!spec) {
      errors.push(`response ${code}: ${op.operationId} declares no such status code`);
      continue;
    }
    if (spec.schema && response.body === undefined) errors.push(`response ${code}: the code has a schema but the example no body`);
    if (!spec.schema && response.body !== undefined) errors.push(`response ${code}: the code has no body`);
    if (spec.schema && response.body !== undefined) {
      errors.push(...schemas.errors(spec.schema, response.body, 'response').map((e) => `response ${code} body: ${e}`));
    }
    for (const [name, value] of Object.entries(response.headers ?? {})) {
      const header = Object.entries(spec.headers ?? {}).find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
      if (!header) errors.push(`response ${code}: header ${name} is not declared`);
      else errors.push(...schemas.simpleErrors(header, value, true).map((e) => `response ${code} header ${name}: ${e}`));
    }
  }
  return errors;
}

describe('x-ms-examples', () => {
  it('every operation has at least one example, referenced from the document, and every example file names an operation', () => {
    const ids = operations.map((op) => op.operationId).sort();
    const without = ids.filter((id) => Object.keys(operations.find((o) => o.operationId === id)!['x-ms-examples'] ?? {}).length === 0);
    expect(without, 'operations without an example').toEqual([]);
    expect(examples.map((e) => e.operationId).filter((id) => !ids.includes(id))).toEqual([]);
    for (const e of examples) {
      const op = operations.find((o) => o.operationId === e.operationId)!;
      expect(op['x-ms-examples']?.[e.title]).toEqual({ $ref: e.ref });
    }
  });

  it.each(examples.map((e) => [e.ref.split('/').pop()!, e] as const))('%s conforms to its operation', (_name, example) => {
    const op = operations.find((o) => o.operationId === example.operationId)!;
    expect(exampleErrors(op, example)).toEqual([]);
  });

  it('each example covers every success status code of its operation', () => {
    for (const op of operations) {
      const covered = new Set(examples.filter((e) => e.operationId === op.operationId).flatMap((e) => Object.keys(e.responses)));
      const codes = Object.keys(op.responses).filter((c) => c !== 'default');
      expect(
        codes.filter((c) => !covered.has(c)),
        op.operationId,
      ).toEqual([]);
    }
  });

  it('the check finds a wrong example: a missing or unknown parameter, an undeclared code, a result of the wrong shape', () => {
    const op = operations.find((o) => o.operationId === 'Clusters_CreateRootToken')!;
    const good = examples.find((e) => e.operationId === 'Clusters_CreateRootToken')!;
    expect(exampleErrors(op, good)).toEqual([]);
    const { clusterName: _omitted, ...parameters } = good.parameters;
    const errors = exampleErrors(op, {
      parameters: { ...parameters, force: true },
      responses: {
        // What every action claimed before: a cluster instead of the new token.
        200: { body: { location: 'westeurope', properties: { network: { cidr: '10.0.0.0/16' } } } },
        201: {},
        202: { headers: { Location: 'https://example.test/x', 'Retry-After': 'soon' } },
      },
    });
    expect(errors).toEqual(
      expect.arrayContaining([
        'parameter clusterName: required, missing',
        'parameter force: not a parameter of Clusters_CreateRootToken',
        "response 200 body: (root) must have required property 'accessorId'",
        'response 200 body: (root) must NOT have additional properties (location)',
        'response 201: Clusters_CreateRootToken declares no such status code',
        'response 202 header Retry-After: (root) must be integer',
      ]),
    );
    // A read-only property in a request body, a bad path value.
    const put = operations.find((o) => o.operationId === 'Clusters_CreateOrUpdate')!;
    const create = examples.find((e) => e.operationId === 'Clusters_CreateOrUpdate')!;
    const resource = create.parameters.resource as { properties: object };
    expect(
      exampleErrors(put, {
        parameters: { ...create.parameters, clusterName: 'Bad_Name', resource: { ...resource, id: '/subscriptions/x' } },
        responses: {},
      }),
    ).toEqual(
      expect.arrayContaining([
        'parameter clusterName: (root) must match pattern "^[a-z][a-z0-9-]{1,46}[a-z0-9]$"',
        'parameter resource: (root) must NOT have additional properties (id)',
      ]),
    );
  });

  it('the whole document, with the example files it references, is a valid Swagger 2.0 document', async () => {
    const api = structuredClone(doc) as unknown as Parameters<typeof SwaggerParser.validate>[1];
    await expect(SwaggerParser.validate(OPENAPI_PATH, api, {})).resolves.toBeDefined();
  });
});
