// HTTP face of the twin's Marketplace Metering Service (metering.ts), as Microsoft documents it:
//   POST /api/usageEvent?api-version=2018-08-31       one event: 200 Accepted, 409 Conflict with
//        additionalInfo.acceptedMessage (status Duplicate), 400 BadArgument with details (also for
//        an event more than 24 hours old)
//   POST /api/batchUsageEvent?api-version=2018-08-31  {"request": [1..25 events]}: 200 with
//        {count, result: [...]} and a status per event (Accepted, Duplicate, Expired,
//        InvalidQuantity, InvalidDimension, BadArgument); 400 for more than 25 events
// Callers need a bearer token of the twin for the Marketplace's application id (or the twin's own
// origin); only the control plane's principal may report usage (403 otherwise).
// Test-only, with `faultInjection` and the fault admin secret (faults.ts):
//   GET    /_test/metering  the clock, any outage and every accepted event
//   PUT    /_test/metering  {"now": "<ISO time>"} moves the clock; {"unavailableSeconds": N}
//                           answers 503 until the twin's clock has moved on N seconds
//   DELETE /_test/metering  ends an outage
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { CloudError } from './errors.js';
import { adminCheck } from './faults.js';
import { type ErrorDetail, type EventOutcome, MAX_BATCH_EVENTS, METERING_API_VERSION, type MeteringService } from './metering.js';
import { header } from './router.js';
import type { TokenService } from './tokens.js';

/** The Marketplace SaaS fulfillment and metering APIs' application id: the audience of their tokens. */
export const MARKETPLACE_API_AUDIENCE = '20e940b3-4c77-4b0b-9a53-9e16a1b010a7';
export const METERING_ADMIN_PATH = '/_test/metering';

const adminSchema = z
  .object({
    now: z.string().datetime({ offset: true }).optional(),
    unavailableSeconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 86_400)
      .optional(),
  })
  .strict()
  .refine((b) => b.now !== undefined || b.unavailableSeconds !== undefined, { message: 'give now, unavailableSeconds or both' });

interface ErrorBody {
  code: string;
  message: string;
  target?: string;
  details?: ErrorDetail[];
  additionalInfo?: unknown;
}

const badArgument = (details: ErrorDetail[], target = 'usageEventRequest'): ErrorBody => ({
  code: 'BadArgument',
  message: 'One or more errors have occurred.',
  target,
  details,
});

export function registerMeteringRoutes(
  app: FastifyInstance,
  o: { service: MeteringService; tokens: TokenService; adminSecret?: string },
): void {
  const { service } = o;

  /**
   * Outage, authentication and api-version, in that order; false once it has answered the call
   * (a boolean: a reply is thenable, so an async function cannot hand one back as a value).
   */
  const gate = async (req: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    if (service.refuse()) {
      void reply
        .status(503)
        .header('retry-after', '60')
        .send({ code: 'ServiceUnavailable', message: 'The metering service is temporarily unavailable (injected fault); retry later.' });
      return false;
    }
    const principal = await o.tokens.verifyArmCall(header(req, 'authorization'), `https://${req.host}`, [MARKETPLACE_API_AUDIENCE]);
    if (principal.kind !== 'controlPlane') {
      void reply.status(403).send({ code: 'Forbidden', message: 'This principal may not report usage for the publisher.' });
      return false;
    }
    const version = (req.query as Record<string, string | undefined>)['api-version'];
    if (version !== METERING_API_VERSION) {
      void reply.status(400).send(
        badArgument(
          [
            {
              code: 'BadArgument',
              message: `The api-version '${version ?? ''}' is not supported; use ${METERING_API_VERSION}.`,
              target: 'api-version',
            },
          ],
          'api-version',
        ),
      );
      return false;
    }
    reply.header('x-ms-requestid', header(req, 'x-ms-requestid') ?? req.id);
    reply.header('x-ms-correlationid', header(req, 'x-ms-correlationid') ?? req.id);
    return true;
  };

  app.post('/api/usageEvent', async (req, reply) => {
    if (!(await gate(req, reply))) return reply;
    const outcome = service.submit(req.body);
    switch (outcome.kind) {
      case 'accepted':
        return reply.status(200).send(outcome.message);
      case 'duplicate':
        return reply.status(409).send(conflict(outcome));
      case 'expired':
        return reply.status(400).send(badArgument([outcome.detail]));
      case 'invalid':
        return reply.status(400).send(badArgument(outcome.details));
    }
  });

  app.post('/api/batchUsageEvent', async (req, reply) => {
    if (!(await gate(req, reply))) return reply;
    const body = req.body as { request?: unknown } | undefined;
    const events = body && typeof body === 'object' && !Array.isArray(body) ? body.request : undefined;
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_BATCH_EVENTS)
      return reply.status(400).send(
        badArgument(
          [
            {
              code: 'BadArgument',
              message: `The request must be {"request": [...]} with 1 to ${MAX_BATCH_EVENTS} usage events${Array.isArray(events) ? ` (got ${events.length})` : ''}.`,
              target: 'request',
            },
          ],
          'batchUsageEventRequest',
        ),
      );
    const extra = Object.keys(body as object).filter((k) => k !== 'request');
    if (extra.length)
      return reply.status(400).send(
        badArgument(
          extra.map((k) => ({ code: 'BadArgument', message: `The field '${k}' is not part of a batch request.`, target: k })),
          'batchUsageEventRequest',
        ),
      );
    const result = events.map((e) => batchResult(service.submit(e), new Date(service.clock.now()).toISOString()));
    return reply.status(200).send({ count: result.length, result });
  });

  if (!o.adminSecret) return;
  const checkAdmin = adminCheck(o.adminSecret);
  app.get(METERING_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    return { ...service.status(), events: service.accepted() };
  });
  app.put(METERING_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    const parsed = adminSchema.safeParse(req.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CloudError(400, 'InvalidRequestContent', `Invalid metering control: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    if (parsed.data.now !== undefined) service.clock.set(Date.parse(parsed.data.now));
    if (parsed.data.unavailableSeconds !== undefined) service.setUnavailable(parsed.data.unavailableSeconds);
    return service.status();
  });
  app.delete(METERING_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    service.setUnavailable(0);
    return service.status();
  });
}

function conflict(outcome: Extract<EventOutcome, { kind: 'duplicate' }>): ErrorBody {
  return {
    code: 'Conflict',
    message: 'This usage event already exist.',
    additionalInfo: { acceptedMessage: { ...outcome.accepted, status: 'Duplicate' } },
  };
}

/** One entry of a batch answer. */
function batchResult(outcome: EventOutcome, messageTime: string): Record<string, unknown> {
  switch (outcome.kind) {
    case 'accepted':
      return { ...outcome.message };
    case 'duplicate': {
      const { usageEventId: _id, status: _s, messageTime: _t, ...event } = outcome.accepted;
      return { status: 'Duplicate', messageTime, error: conflict(outcome), ...event };
    }
    case 'expired':
      return {
        status: 'Expired',
        messageTime,
        error: { code: 'BadArgument', message: outcome.detail.message, target: outcome.detail.target },
        ...outcome.event,
      };
    case 'invalid': {
      const first = outcome.details[0]!;
      const status = ['InvalidQuantity', 'InvalidDimension'].includes(first.code) ? first.code : 'BadArgument';
      return { status, messageTime, error: badArgument(outcome.details), ...outcome.event };
    }
  }
}
