// How a handler's answer becomes an ARM REST answer: status codes, long-running operation
// headers, ETags and the Location URL's operation result. Every rule is read from the ARM table
// (openapi/arm-table.ts, arm-lro.ts), the same entries the OpenAPI document is generated from.
import type { FastifyReply } from 'fastify';
import { API_VERSION } from '../api-version.js';
import type { RpcRoute } from '../contract.js';
import type { RequestContext } from '../context.js';
import { ETAG_RPCS, successStatus } from '../openapi/arm-table.js';
import { OPERATION_RESULT, OPERATION_RESULT_BODIES, isLongRunning } from '../openapi/arm-lro.js';

interface OperationLike {
  id: string;
  status: string;
  error?: { code: string; message: string; target?: string };
}

const TERMINAL = new Set(['Succeeded', 'Failed', 'Canceled']);

/** ARM's status document URL (the operation view's id is its path) and the result URL beside it. */
function pollingUrls(op: OperationLike, ctx: RequestContext): { statusUrl: string; resultUrl: string } {
  return {
    statusUrl: `${ctx.baseUrl}${op.id}?api-version=${API_VERSION}`,
    resultUrl: `${ctx.baseUrl}${op.id.replace('/operationStatuses/', '/operationResults/')}?api-version=${API_VERSION}`,
  };
}

/** Sends a handler's response for an RPC route (not the Location URL: see sendOperationResult). */
export function sendRpcResponse(
  route: RpcRoute,
  res: Record<string, unknown>,
  ctx: RequestContext,
  reply: FastifyReply,
  retryAfter: string,
): FastifyReply {
  const op = res.operation as OperationLike | undefined;
  const body = route.responseBody ? res[route.responseBody] : res;
  const etag = (body as { etag?: string } | undefined)?.etag;
  if (etag && ETAG_RPCS.has(route.method.name)) reply.header('ETag', etag);
  const running = op !== undefined && !TERMINAL.has(op.status);
  const status = successStatus(route.verb, isLongRunning(route), {
    running,
    created: res.created === true,
    ...(typeof res.existed === 'boolean' ? { existed: res.existed } : {}),
  });
  if (route.verb === 'put' && running) reply.header('Azure-AsyncOperation', pollingUrls(op, ctx).statusUrl);
  if (status === 202 && op) {
    // 202 carries headers only; the Location URL answers with the final result.
    const { statusUrl, resultUrl } = pollingUrls(op, ctx);
    reply.header('Location', resultUrl).header('Azure-AsyncOperation', statusUrl).header('Retry-After', retryAfter);
    return reply.status(202).send();
  }
  if (status === 204) return reply.status(204).send();
  return reply.status(status).send(body ?? {});
}

/**
 * ARM's Location URL (GetOperationResult over REST, OPERATION_RESULT): 202 while the operation
 * runs, then exactly what the synchronous call would have answered, or the operation's error.
 */
export function sendOperationResult(
  res: Record<string, unknown>,
  ctx: RequestContext,
  reply: FastifyReply,
  retryAfter: string,
): FastifyReply {
  const op = res.operation as OperationLike;
  if (!TERMINAL.has(op.status)) {
    return reply
      .status(OPERATION_RESULT.running)
      .header('Location', pollingUrls(op, ctx).resultUrl)
      .header('Retry-After', retryAfter)
      .send();
  }
  if (op.status === 'Succeeded') {
    for (const [field, how] of Object.entries(OPERATION_RESULT_BODIES)) {
      const result = res[field] as { etag?: string } | undefined;
      if (result === undefined) continue;
      if (how.etag && result.etag) reply.header('ETag', result.etag);
      if (how.noStore) reply.header('Cache-Control', 'no-store');
      return reply.status(OPERATION_RESULT.succeeded).send(how.wrap ? { [how.wrap]: result } : result);
    }
    return reply.status(OPERATION_RESULT.noResult).send();
  }
  const canceled = op.status === 'Canceled';
  const error = op.error ?? {
    code: canceled ? 'OperationCanceled' : 'OperationFailed',
    message: `The operation ${op.status.toLowerCase()}.`,
  };
  return reply
    .status(canceled ? OPERATION_RESULT.canceled : OPERATION_RESULT.failed)
    .header('x-ms-error-code', error.code)
    .send({ error });
}
