// The ARM-shaped REST API. Routes come from the proto's google.api.http annotations; this file
// adds what ARM asks of a resource provider around the shared handlers: api-version checks,
// request/correlation ids, authentication and ARM error bodies. ARM status codes, headers for
// long-running operations, ETags and the Location URL's answers follow the ARM table
// (arm-responses.ts, openapi/arm-table.ts, arm-lro.ts).
import type { PayloadCodec } from '@temporalio/common';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth.js';
import { API_VERSION, SUBSCRIPTION_API_VERSION } from '../api-version.js';
import { handlerFor, rpcRoutes, type ApiHandlers, type RpcRoute } from '../contract.js';
import { OPERATION_RESULT } from '../openapi/arm-lro.js';
import { OPENAPI_PATH } from '../openapi/document-file.js';
import type { Caller, RequestContext } from '../context.js';
import { ApiError, badRequest, toArmError } from '../errors.js';
import { checkFieldLimits, checkHeaderLength, quote } from '../field-limits.js';
import { retryAfterOf } from '../rate-limit.js';
import { sendOperationResult, sendRpcResponse } from './arm-responses.js';
import { metricsRoute } from './metrics-route.js';
import { httpRequestDuration, UNMATCHED_ROUTE } from '../../../../lib/metrics.js';
import { codecRoutes } from './codec-routes.js';
import type { ReadinessReport } from '../readiness.js';
import { auditUnavailable, isAudited, requestAuditEntry, type AuditRecorder } from '../audit.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface RestServerOptions {
  handlers: ApiHandlers;
  authenticate: Authenticator;
  logger: Logger;
  /** HTTPS with optional client certificates (ARM's mutual TLS); plain HTTP when absent. */
  tls?: { cert: string; key: string };
  /** Seconds clients should wait between polls of an operation. */
  retryAfterSeconds?: number;
  payloadCodec: PayloadCodec;
  /** Origins of the Temporal UIs that may call /codec from a browser (CORS); none when absent. */
  codecCorsOrigins?: readonly string[];
  /** Whether the store and Temporal answer (readiness.ts), for /readyz. */
  readiness: () => Promise<ReadinessReport>;
  /** Records every mutating request before its answer leaves (audit.ts); nothing is recorded when absent. */
  audit?: AuditRecorder;
}

declare module 'fastify' {
  interface FastifyRequest {
    hcs: { requestId: string; correlationId: string; caller?: Caller };
  }
  interface FastifyContextConfig {
    /** The RPC route of a mutating request, for its audit row. */
    auditRoute?: RpcRoute;
  }
}

export async function createRestServer(o: RestServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(o.tls ? { https: { cert: o.tls.cert, key: o.tls.key, requestCert: true, rejectUnauthorized: false } } : {}),
    bodyLimit: MAX_BODY_BYTES,
    // maxParamLength: a long path value reaches checkFieldLimits (400 naming the parameter), not a 404.
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 8192 },
    logger: false,
    genReqId: () => randomUUID(),
  });
  const retryAfter = String(o.retryAfterSeconds ?? 2);

  app.decorateRequest('hcs', null as never);
  app.addHook('onRequest', async (req, reply) => {
    const correlationId = header(req, 'x-ms-correlation-request-id') ?? randomUUID();
    req.hcs = { requestId: req.id, correlationId };
    reply.header('x-ms-request-id', req.id);
    reply.header('x-ms-correlation-request-id', correlationId);
    const clientRequestId = header(req, 'x-ms-client-request-id');
    if (clientRequestId && header(req, 'x-ms-return-client-request-id') === 'true') reply.header('x-ms-client-request-id', clientRequestId);
  });
  // The request line has these fields only, none of which can hold a credential (the caller is
  // its subject, the URL is ARM's resource path): it skips the process logger's redaction paths,
  // whose wildcards run a redaction over every field of every line and cost more than the rest
  // of a GET. Any other line keeps them.
  const requestLog = o.logger.child({}, { redact: { paths: ['authorization'], censor: '[redacted]' } });
  app.addHook('onResponse', async (req, reply) => {
    requestLog.info(
      {
        requestId: req.hcs?.requestId,
        correlationId: req.hcs?.correlationId,
        method: req.method,
        url: req.url,
        status: reply.statusCode,
        caller: req.hcs?.caller?.subject,
        ms: Math.round(reply.elapsedTime),
      },
      'request',
    );
    // By the route template (never the URL, which names tenants) and the status code.
    httpRequestDuration.observe(
      { method: req.method, route: req.routeOptions.url ?? UNMATCHED_ROUTE, code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  // Every mutating request's audit row, written before the answer leaves (refusals too: the
  // error handler's answer passes here); when it cannot be written the answer is a 503 (audit.ts).
  const audit = o.audit;
  if (audit)
    app.addHook('onSend', async (req, reply, payload) => {
      const route = req.routeOptions.config.auditRoute;
      if (!route) return payload;
      const params = req.params as Record<string, string | undefined>;
      const errorCode = reply.getHeader('x-ms-error-code');
      try {
        await audit(
          requestAuditEntry({
            route,
            values: (field) => params[field],
            caller: req.hcs?.caller,
            clientAddress: req.ip,
            correlationId: req.hcs?.correlationId ?? '',
            requestId: req.hcs?.requestId ?? req.id,
            status: reply.statusCode,
            errorCode: typeof errorCode === 'string' ? errorCode : null,
          }),
        );
        return payload;
      } catch (err) {
        o.logger.error({ err, requestId: req.id, correlationId: req.hcs?.correlationId }, 'the audit row could not be written');
        const arm = toArmError(auditUnavailable(req.id), req.id);
        for (const h of ['location', 'azure-asyncoperation', 'etag', 'retry-after', 'content-length']) reply.removeHeader(h);
        reply.status(arm.httpStatus).header('x-ms-error-code', arm.body.error.code).type('application/json; charset=utf-8');
        return JSON.stringify(arm.body);
      }
    });

  app.setErrorHandler(async (err: unknown, req, reply) => {
    let e = err;
    const fe = err as { statusCode?: number; code?: string; message?: string };
    if (!(err instanceof ApiError) && fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      e = new ApiError(413, 8, 'RequestBodyTooLarge', `The request body is larger than ${MAX_BODY_BYTES} bytes.`);
    } else if (!(err instanceof ApiError) && fe.statusCode === 400 && (fe.code?.startsWith('FST_ERR_CTP') || err instanceof SyntaxError)) {
      e = badRequest('InvalidRequestContent', `The request body is not valid JSON: ${fe.message ?? ''}`.trim());
    } else if (!(err instanceof ApiError) && fe.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      e = new ApiError(415, 3, 'UnsupportedMediaType', 'Send the request body as application/json.');
    }
    const arm = toArmError(e, req.hcs?.requestId ?? req.id);
    if (arm.httpStatus >= 500) o.logger.error({ err, requestId: req.id, correlationId: req.hcs?.correlationId }, 'request failed');
    const retry = retryAfterOf(e);
    if (retry) reply.header('Retry-After', String(retry));
    return reply.status(arm.httpStatus).header('x-ms-error-code', arm.body.error.code).send(arm.body);
  });
  app.setNotFoundHandler(async (req) => {
    throw new ApiError(404, 12, 'NotFound', `No API answers ${req.method} ${quote(req.url.split('?')[0] ?? '')}.`);
  });

  // Liveness for load balancers and the supervisor; says nothing about any resource.
  app.get('/healthz', async () => ({ status: 'ok' }));
  // Readiness for load balancers and Nomad's checks: 503 naming the dependency that does not
  // answer (store or Temporal) and why in a word; unauthenticated like /healthz, so it says no more.
  app.get('/readyz', async (_req, reply) => {
    const report = await o.readiness();
    return reply.status(report.ready ? 200 : 503).send({ status: report.ready ? 'ready' : 'not ready', checks: report.checks });
  });

  // Prometheus metrics for all-subscription operators and SREs (metrics-route.ts).
  await app.register(metricsRoute, { context: (req) => context(req) });

  // The OpenAPI (Swagger 2.0) document generated from the proto: public, like any ARM spec.
  const openapi = readFileSync(OPENAPI_PATH, 'utf8');
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json').send(openapi));

  // Temporal's remote codec protocol for SREs, with CORS for the Temporal UI (codec-routes.ts).
  await app.register(codecRoutes, {
    prefix: '/codec',
    payloadCodec: o.payloadCodec,
    corsOrigins: o.codecCorsOrigins ?? [],
    context: (req, authorization) => context(req, authorization),
  });

  // ARM's operations list: every action this provider offers, derived from the contract.
  const providerOperations = providerOperationList();
  app.get('/providers/HCS.Consul/operations', async (req) => {
    checkApiVersion(req, API_VERSION);
    await context(req);
    return { value: providerOperations };
  });

  for (const route of rpcRoutes()) {
    const isSubscriptionLifecycle = route.handler === 'putSubscription';
    const isMarketplace = route.handler === 'notifyResource';
    const isOperationResult = route.method.name === OPERATION_RESULT.rpc;
    const fn = handlerFor(o.handlers, route.method);
    app.route({
      method: route.verb.toUpperCase(),
      url: route.path.replace(/\{([a-z_]+)\}/g, ':$1'),
      ...(isAudited(route) ? { config: { auditRoute: route } } : {}),
      handler: async (req, reply) => {
        // Lengths before anything else (field-limits.ts); the raw body of a body field is checked whole.
        const input = requestInput(route, req);
        checkHeaderLength('x-ms-correlation-request-id', header(req, 'x-ms-correlation-request-id'));
        checkFieldLimits(route, route.body && route.body !== '*' ? { ...input, [route.body]: req.body } : input);
        if (!isMarketplace) checkApiVersion(req, isSubscriptionLifecycle ? SUBSCRIPTION_API_VERSION : API_VERSION);
        const ctx = await context(req);
        const res = await fn(input, ctx);
        return isOperationResult ? sendOperationResult(res, ctx, reply, retryAfter) : sendRpcResponse(route, res, ctx, reply, retryAfter);
      },
    });
  }

  async function context(req: FastifyRequest, authorization = header(req, 'authorization')): Promise<RequestContext> {
    const socket = req.raw.socket as Partial<TLSSocket>;
    const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
    const caller = await o.authenticate({
      authorization,
      peerCertificate: cert && cert.fingerprint ? { fingerprint: cert.fingerprint, fingerprint256: cert.fingerprint256 } : undefined,
    });
    req.hcs.caller = caller;
    const ctx: RequestContext = {
      requestId: req.hcs.requestId,
      correlationId: req.hcs.correlationId,
      caller,
      rawBody: req.body,
      baseUrl: baseUrl(req),
      apiVersion: API_VERSION,
    };
    // ARM writes who created or changed a resource; anyone else could claim to be someone else.
    const sd = header(req, 'x-ms-arm-resource-system-data');
    if (sd && caller.kind === 'arm') ctx.systemData = parseSystemData(sd);
    return ctx;
  }

  return app;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function checkApiVersion(req: FastifyRequest, supported: string): void {
  const v = (req.query as Record<string, unknown>)['api-version'];
  if (v === undefined || v === '') {
    throw new ApiError(
      400,
      3,
      'MissingApiVersionParameter',
      `The api-version query parameter is required; supported: ${supported}.`,
      'api-version',
    );
  }
  if (v !== supported) {
    throw new ApiError(
      400,
      3,
      'UnsupportedApiVersionValue',
      `The api-version ${quote(typeof v === 'string' ? v : JSON.stringify(v))} is not supported; supported versions: ${supported}.`,
      'api-version',
    );
  }
}

/** ARM builds the hosts of nextLink/Location from the referer it sends; otherwise our own. */
function baseUrl(req: FastifyRequest): string {
  const referer = header(req, 'referer');
  if (referer) {
    try {
      return new URL(referer).origin;
    } catch {
      /* fall through */
    }
  }
  return `${req.protocol}://${req.host}`;
}

function parseSystemData(raw: string): Record<string, string> | undefined {
  try {
    const v = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
  } catch {
    return undefined;
  }
}

/** Path variables, ARM query options, conditional headers and (for body "*") the body's fields. */
function requestInput(route: RpcRoute, req: FastifyRequest): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const params = req.params as Record<string, string>;
  for (const p of route.pathParams) input[p.json] = params[p.field];
  const q = req.query as Record<string, string | undefined>;
  if (q.$skipToken !== undefined) input.skipToken = q.$skipToken;
  if (q.$top !== undefined) input.top = Number(q.$top);
  if (q.$filter !== undefined && route.method.input.fields.some((f) => f.name === 'filter')) input.filter = q.$filter;
  const ifMatch = header(req, 'if-match');
  const ifNoneMatch = header(req, 'if-none-match');
  if (ifMatch) input.ifMatch = ifMatch;
  if (ifNoneMatch) input.ifNoneMatch = ifNoneMatch;
  if (route.body === '*' && req.body && typeof req.body === 'object' && !Array.isArray(req.body)) {
    for (const [k, v] of Object.entries(req.body as Record<string, unknown>)) if (!(k in input)) input[k] = v;
  }
  return input;
}

/** One entry per customer-facing RPC, named as ARM names provider operations. */
function providerOperationList() {
  return rpcRoutes()
    .filter((r) => r.service.name !== 'NotificationService')
    .map((r) => {
      const action =
        r.verb === 'get' ? 'read' : r.verb === 'delete' ? 'delete' : r.verb === 'post' ? `${r.path.split('/').at(-1)}/action` : 'write';
      const resource = r.service.name === 'OperationService' ? 'operations' : 'clusters';
      return {
        name: `HCS.Consul/${resource}/${action}`,
        display: {
          provider: 'HCS Consul',
          resource: resource === 'clusters' ? 'Consul clusters' : 'Operations',
          operation: r.method.name,
          description: r.method.name.replace(/([a-z])([A-Z])/g, '$1 $2'),
        },
        origin: 'user,system',
        isDataAction: false,
      };
    })
    .filter((op, i, all) => all.findIndex((o) => o.name === op.name) === i);
}
