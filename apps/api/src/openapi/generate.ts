// The ARM OpenAPI (Swagger 2.0) document of HCS.Consul, generated from the proto contract: paths
// and verbs from rpcRoutes() (the google.api.http annotations), schemas from the message
// descriptors, ARM conventions from arm-table.ts and arm-lro.ts. scripts/generate-openapi.ts writes it to
// gen/openapi/; a test keeps the committed file equal to a fresh generation.
import type { DescField, DescMessage } from '@bufbuild/protobuf';
import { rpcRoutes, type RpcRoute } from '../contract.js';
import {
  ARM_DEFINITIONS,
  ARM_DOCUMENT,
  ETAG_RPCS,
  EXCLUDED_SERVICES,
  GLOBAL_PARAMETERS,
  NON_BODY_FIELDS,
  OPERATIONS_API,
  PATH_PARAMETERS,
  RESPONSES,
  TAG_DESCRIPTIONS,
  operationIdFor,
} from './arm-table.js';
import { FINAL_STATE_VIA, OPERATION_RESULT, OPERATION_RESULT_BODIES, UNDOCUMENTED_RPCS, isLongRunning, lroFinalResult } from './arm-lro.js';
import { maxLengthOf, pathParameterMaxLength } from '../field-limits.js';
import { SECURITY_DEFINITIONS } from './common-types.js';
import { examplesByOperation } from './examples.js';
import { loadProtoComments, type ProtoComments } from './proto-comments.js';
import { Definitions, ref, scalarSchema, type Json } from './schemas.js';

export { OPENAPI_FILE } from './document-file.js';

const ERROR_RESPONSE = {
  description: 'An unexpected error response.',
  schema: ref('ErrorResponse'),
  headers: { 'x-ms-error-code': { type: 'string', description: 'The error code, as in error.code.' } },
};
const ETAG_HEADER = { ETag: { type: 'string', description: 'The entity tag of the resource, for If-Match and If-None-Match.' } };

export function generateOpenApi(): Record<string, unknown> {
  const comments = loadProtoComments();
  const defs = new Definitions(comments);
  const examples = examplesByOperation();
  for (const [name, def] of Object.entries(ARM_DEFINITIONS)) defs.add(name, def);
  const paths: Record<string, Json> = {};
  for (const route of rpcRoutes()) {
    if (EXCLUDED_SERVICES.has(route.service.typeName) || UNDOCUMENTED_RPCS.has(route.method.name)) continue;
    const path = armPath(route);
    const verbs = (paths[path] ??= {});
    if (verbs[route.verb] !== undefined) throw new Error(`two RPCs map to ${route.verb.toUpperCase()} ${path}`);
    verbs[route.verb] = operation(route, defs, comments);
  }
  paths[OPERATIONS_API.path] = { get: operationsApi() };
  for (const verbs of Object.values(paths)) {
    for (const op of Object.values(verbs) as Json[]) {
      const refs = examples.get(op.operationId as string);
      if (refs) op['x-ms-examples'] = refs;
    }
  }

  const usedTags = new Set(Object.values(paths).flatMap((p) => Object.values(p).flatMap((op) => (op as { tags: string[] }).tags)));
  return {
    swagger: '2.0',
    info: { title: ARM_DOCUMENT.title, description: ARM_DOCUMENT.description, version: ARM_DOCUMENT.apiVersion },
    host: ARM_DOCUMENT.host,
    schemes: ['https'],
    consumes: ['application/json'],
    produces: ['application/json'],
    security: [{ azure_auth: ['user_impersonation'] }],
    securityDefinitions: SECURITY_DEFINITIONS,
    tags: Object.entries(TAG_DESCRIPTIONS)
      .filter(([name]) => usedTags.has(name))
      .map(([name, description]) => ({ name, description })),
    paths,
    definitions: defs.all,
    parameters: withPathLimits(GLOBAL_PARAMETERS),
  };
}

/** The document as committed: keys sorted below the top level (fixed Swagger order), 2-space indent, final newline. */
export function renderOpenApi(doc: Record<string, unknown> = generateOpenApi()): string {
  const top = Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, sortKeys(v)]));
  return `${JSON.stringify(top, null, 2)}\n`;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
  );
}

/** The global path parameters with the maxLength the API checks (field-limits.ts) where they have none. */
function withPathLimits(parameters: Record<string, Json>): Record<string, Json> {
  const out = { ...parameters };
  for (const [field, name] of Object.entries(PATH_PARAMETERS)) {
    const max = pathParameterMaxLength(field);
    const param = out[name];
    if (param && max !== undefined && param.maxLength === undefined) out[name] = { ...param, maxLength: max };
  }
  return out;
}

/** Proto path template -> ARM path: `{subscription_id}` -> `{subscriptionId}` and so on. */
export function armPath(route: RpcRoute): string {
  return route.path.replace(/\{([a-z_]+)\}/g, (_, field: string) => `{${String(globalParameter(field, route).name)}}`);
}

function globalParameter(field: string, route: RpcRoute): Json {
  const name = PATH_PARAMETERS[field];
  const param = name === undefined ? undefined : GLOBAL_PARAMETERS[name];
  if (!param) throw new Error(`${route.method.name}: path variable ${field} has no ARM parameter in arm-table.ts PATH_PARAMETERS`);
  return param;
}

function operation(route: RpcRoute, defs: Definitions, comments: ProtoComments): Json {
  const rpc = route.method.name;
  const operationId = operationIdFor(rpc, route.path);
  const input = route.method.input;
  const pathFields = new Set(route.pathParams.map((p) => p.field));

  const parameters: Json[] = route.pathParams.map((p) => ({ $ref: `#/parameters/${PATH_PARAMETERS[p.field]}` }));
  parameters.push({ $ref: '#/parameters/ApiVersionParameter' });
  const nonBody = new Set<string>();
  for (const field of input.fields) {
    const spec = NON_BODY_FIELDS[field.name];
    if (!spec || pathFields.has(field.name)) continue;
    nonBody.add(field.name);
    // A POST takes its parameters in the body (ARM's ParametersInPost): a list action's paging
    // is only in its nextLink, an opaque URL the client follows with the same POST.
    if (route.verb === 'post' && (field.name === 'skip_token' || field.name === 'top')) continue;
    if (field.fieldKind !== 'scalar') throw new Error(`${rpc}.${field.name}: header/query fields must be scalars`);
    const max = maxLengthOf(field);
    parameters.push({
      ...spec,
      required: false,
      ...scalarSchema(field.scalar),
      ...(max !== undefined ? { maxLength: max } : {}),
      description: describe(comments, field),
    });
  }
  const body = requestBody(route, defs, comments, new Set([...pathFields, ...nonBody]));
  if (body) parameters.push(body);

  const lro = isLongRunning(route);
  const final = lro ? finalResult(route, defs, comments) : undefined;
  const responses = responsesFor(route, defs, lro, final);
  const result: Json = {
    tags: [operationId.split('_')[0]],
    operationId,
    description: comments.get(`${route.service.typeName}.${rpc}`) ?? rpc,
    parameters,
    responses,
  };
  if (lro) {
    result['x-ms-long-running-operation'] = true;
    result['x-ms-long-running-operation-options'] = {
      'final-state-via': FINAL_STATE_VIA[route.verb],
      ...(final ? { 'final-state-schema': final.$ref } : {}),
    };
  }
  const page = listShape(responseMessage(route, defs));
  if (page?.nextLink) result['x-ms-pageable'] = { nextLinkName: page.nextLink.jsonName };
  return result;
}

function requestBody(route: RpcRoute, defs: Definitions, comments: ProtoComments, notInBody: ReadonlySet<string>): Json | undefined {
  const input = route.method.input;
  if (route.body === undefined) return undefined;
  if (route.body !== '*') {
    const field = input.fields.find((f) => f.jsonName === route.body);
    if (field?.message === undefined) throw new Error(`${route.method.name}: body ${route.body} is not a message field`);
    const schema = route.verb === 'patch' ? defs.patchModel(field.message) : defs.message(field.message);
    return {
      name: route.verb === 'patch' ? 'properties' : 'resource',
      in: 'body',
      required: true,
      schema,
      description: describe(comments, field),
    };
  }
  const fields = input.fields.filter((f) => !notInBody.has(f.name));
  if (fields.length === 0) return undefined;
  const name = `${route.method.name}Parameters`;
  const schema = defs.message(input, { name, omit: notInBody });
  const required = Array.isArray(defs.all[name]?.required);
  return { name: 'body', in: 'body', required, schema, description: `The parameters of ${route.method.name}.` };
}

/** The message the REST body holds: the response_body field's message, or the whole response. */
function responseMessage(route: RpcRoute, defs: Definitions): { message: DescMessage; name: string } {
  if (route.responseBody !== undefined) {
    const field = route.method.output.fields.find((f) => f.jsonName === route.responseBody);
    if (field?.message === undefined) throw new Error(`${route.method.name}: response_body ${route.responseBody} is not a message field`);
    return { message: field.message, name: defs.nameOf(field.message) };
  }
  const page = listShape({ message: route.method.output });
  const name = page ? `${defs.nameOf(page.item)}ListResult` : `${route.method.name}Result`;
  return { message: route.method.output, name };
}

/** `{ value: repeated X, nextLink? }`, the ARM list shape. */
function listShape(r: { message: DescMessage }): { item: DescMessage; nextLink?: DescField } | undefined {
  const fields = r.message.fields;
  const value = fields.find((f) => f.jsonName === 'value');
  const nextLink = fields.find((f) => f.jsonName === 'nextLink');
  if (value?.fieldKind !== 'list' || value.listKind !== 'message' || fields.length !== (nextLink ? 2 : 1)) return undefined;
  return { item: value.message, ...(nextLink ? { nextLink } : {}) };
}

function responseSchema(route: RpcRoute, defs: Definitions): Json {
  const r = responseMessage(route, defs);
  if (route.responseBody !== undefined) return defs.message(r.message);
  const page = listShape(r);
  if (!page) return defs.message(r.message, { name: r.name });
  const next = page.nextLink
    ? { [page.nextLink.jsonName]: { type: 'string', format: 'uri', description: 'The link to the next page; absent on the last page.' } }
    : {};
  return defs.message(r.message, {
    name: r.name,
    replace: next,
    extra: { description: `A page of ${defs.nameOf(page.item)} items.`, required: ['value'] },
  });
}

/**
 * The schema of what a long-running RPC finally yields (arm-lro LRO_FINAL_RESULTS): the message
 * of that field of GetOperationResultResponse's `result` oneof, or, where the Location URL sends
 * it under a field of its own (OPERATION_RESULT_BODIES `wrap`), an object holding it there.
 * Undefined for an RPC that yields nothing.
 */
function finalResult(route: RpcRoute, defs: Definitions, comments: ProtoComments): { $ref: string } | undefined {
  const field = lroFinalResult(route.method.name);
  if (field === null) return undefined;
  const resultRoute = rpcRoutes().find((r) => r.method.name === OPERATION_RESULT.rpc);
  const oneofField = resultRoute?.method.output.oneofs.find((o) => o.name === 'result')?.fields.find((f) => f.jsonName === field);
  if (oneofField?.message === undefined) throw new Error(`${route.method.name}: ${OPERATION_RESULT.rpc} has no result ${field}`);
  const schema = defs.message(oneofField.message) as { $ref: string };
  const wrap = OPERATION_RESULT_BODIES[field].wrap;
  if (wrap === undefined) return schema;
  const description = comments.get(`${oneofField.parent.typeName}.${oneofField.name}`);
  return defs.add(`${defs.nameOf(oneofField.message)}OperationResult`, {
    type: 'object',
    description: `The final result of an operation that yields a ${oneofField.message.name}, under ${wrap}.`,
    properties: { [wrap]: { ...schema, ...(description ? { description } : {}) } },
    required: [wrap],
  }) as { $ref: string };
}

function responsesFor(route: RpcRoute, defs: Definitions, lro: boolean, final: Json | undefined): Json {
  const etag = ETAG_RPCS.has(route.method.name) ? ETAG_HEADER : {};
  const specs = RESPONSES[route.verb][lro ? 'lro' : 'sync'];
  if (Object.keys(specs).length === 0) throw new Error(`${route.method.name}: a long-running ${route.verb.toUpperCase()} is not supported`);
  const responses: Json = {};
  for (const [code, spec] of Object.entries(specs)) {
    // An RPC that yields nothing has no response with its result (LintDiff PostResponseCodes).
    if (spec.body === 'result' && final === undefined) continue;
    const schema = spec.body === 'body' ? responseSchema(route, defs) : spec.body === 'result' ? final : undefined;
    const headers = { ...spec.headers, ...(spec.body ? etag : {}) };
    responses[code] = { description: spec.description, ...(schema ? { schema } : {}), ...(Object.keys(headers).length ? { headers } : {}) };
  }
  responses.default = ERROR_RESPONSE;
  return responses;
}

function operationsApi(): Json {
  return {
    tags: ['Operations'],
    operationId: OPERATIONS_API.operationId,
    description: OPERATIONS_API.description,
    parameters: [{ $ref: '#/parameters/ApiVersionParameter' }],
    responses: {
      200: { description: 'The request succeeded.', schema: ref(OPERATIONS_API.resultDefinition) },
      default: ERROR_RESPONSE,
    },
    'x-ms-pageable': { nextLinkName: 'nextLink' },
  };
}

function describe(comments: ProtoComments, field: DescField): string {
  return comments.get(`${field.parent.typeName}.${field.name}`) ?? field.jsonName;
}
