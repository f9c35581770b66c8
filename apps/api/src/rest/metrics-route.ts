// GET /metrics on the REST port: this process's Prometheus metrics (lib/metrics.ts). The port
// faces ARM and the internet, so the route authenticates like every other one and answers only
// principals that already see the whole service: an all-subscription operator token of any role
// (Prometheus scrapes with a reader token, the least it needs) or an SRE (isSre). The labels hold
// route templates, status codes and operation kinds, never a tenant's ids or names.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { metricsRegistry } from '../../../../lib/metrics.js';
import type { Caller, RequestContext } from '../context.js';
import { ApiError } from '../errors.js';
import { isSre } from '../service/authorize.js';

export interface MetricsRouteOptions {
  /** Authenticates the request (the server's context()). */
  context(req: FastifyRequest): Promise<RequestContext>;
}

/** Whether the caller may read the service's metrics. */
export function mayReadMetrics(caller: Caller): boolean {
  return isSre(caller) || (caller.kind === 'operator' && caller.subscriptions === '*');
}

export async function metricsRoute(app: FastifyInstance, o: MetricsRouteOptions): Promise<void> {
  app.get('/metrics', async (req, reply) => {
    const ctx = await o.context(req);
    if (!mayReadMetrics(ctx.caller))
      throw new ApiError(
        403,
        7,
        'AuthorizationFailed',
        'Metrics describe the whole service: only an all-subscription operator token or an SRE may read them.',
      );
    return reply.type(metricsRegistry.contentType).send(await metricsRegistry.metrics());
  });
}
