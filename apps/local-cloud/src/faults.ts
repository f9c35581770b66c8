// Test-only fault injection: ARM throttling and outages on demand, so chaos runs can show that
// the control plane rides out what Azure really does (429 with Retry-After, then 503). Enabled
// only when the twin is started with `faultInjection` (HCS_LOCAL_CLOUD_FAULT_INJECTION=1, which
// the dev stack sets for chaos runs and tests only); otherwise the admin routes do not exist.
//
// Admin API (authenticated with the control plane's managed-identity header secret, which only
// the stack's owner holds, in `x-hcs-fault-admin`):
//   PUT    /_test/faults  {"throttleSeconds": 30, "unavailableSeconds": 30, "retryAfterSeconds": 5}
//   GET    /_test/faults  the active fault and what it has answered so far
//   DELETE /_test/faults  ends it now
// While a fault is active every ARM request (paths under /subscriptions/) first gets
// 429 TooManyRequests with Retry-After for throttleSeconds, then 503 ServiceUnavailable (also
// with Retry-After) for unavailableSeconds; token endpoints and the instances' managed identity
// are not affected (Entra and IMDS are separate services in Azure).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { CloudError } from './errors.js';
import { header } from './router.js';

export const FAULT_ADMIN_PATH = '/_test/faults';
export const FAULT_ADMIN_HEADER = 'x-hcs-fault-admin';

const faultSchema = z
  .object({
    throttleSeconds: z.number().int().min(0).max(3600),
    unavailableSeconds: z.number().int().min(0).max(3600),
    retryAfterSeconds: z.number().int().min(0).max(600).default(5),
  })
  .strict()
  .refine((f) => f.throttleSeconds + f.unavailableSeconds > 0, { message: 'throttleSeconds + unavailableSeconds must be above 0' });

export type FaultRequest = z.input<typeof faultSchema>;

export interface FaultStatus {
  active: boolean;
  phase: 'none' | 'throttling' | 'unavailable';
  startedAt?: string;
  endsAt?: string;
  answered: { throttled: number; unavailable: number };
}

interface ActiveFault {
  start: number;
  throttleUntil: number;
  end: number;
  retryAfterSeconds: number;
}

export class FaultInjector {
  #fault: ActiveFault | undefined;
  #answered = { throttled: 0, unavailable: 0 };

  constructor(private readonly now: () => number = Date.now) {}

  set(input: unknown): FaultStatus {
    const parsed = faultSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new CloudError(400, 'InvalidRequestContent', `Invalid fault: ${issue.path.join('.') || 'body'}: ${issue.message}`);
    }
    const f = parsed.data;
    const start = this.now();
    this.#fault = {
      start,
      throttleUntil: start + f.throttleSeconds * 1000,
      end: start + (f.throttleSeconds + f.unavailableSeconds) * 1000,
      retryAfterSeconds: f.retryAfterSeconds,
    };
    this.#answered = { throttled: 0, unavailable: 0 };
    return this.status();
  }

  clear(): FaultStatus {
    if (this.#fault) this.#fault.end = Math.min(this.#fault.end, this.now());
    return this.status();
  }

  phase(): FaultStatus['phase'] {
    const f = this.#fault;
    const t = this.now();
    if (!f || t >= f.end) return 'none';
    return t < f.throttleUntil ? 'throttling' : 'unavailable';
  }

  status(): FaultStatus {
    const f = this.#fault;
    const phase = this.phase();
    return {
      active: phase !== 'none',
      phase,
      ...(f ? { startedAt: new Date(f.start).toISOString(), endsAt: new Date(f.end).toISOString() } : {}),
      answered: { ...this.#answered },
    };
  }

  /** The error an ARM request gets now, or undefined when no fault is active. */
  errorFor(): { error: CloudError; retryAfterSeconds: number } | undefined {
    const phase = this.phase();
    const f = this.#fault;
    if (phase === 'none' || !f) return undefined;
    if (phase === 'throttling') {
      this.#answered.throttled++;
      return {
        error: new CloudError(429, 'TooManyRequests', 'The request was throttled (injected fault); retry after the Retry-After interval.'),
        retryAfterSeconds: f.retryAfterSeconds,
      };
    }
    this.#answered.unavailable++;
    return {
      error: new CloudError(503, 'ServiceUnavailable', 'The service is temporarily unavailable (injected fault); retry later.'),
      retryAfterSeconds: f.retryAfterSeconds,
    };
  }
}

/** Mounts the admin routes and the hook that answers ARM requests with the active fault. */
export function registerFaultInjection(app: FastifyInstance, o: { injector: FaultInjector; adminSecret: string }): void {
  const checkAdmin = adminCheck(o.adminSecret);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!req.url.toLowerCase().startsWith('/subscriptions/')) return;
    const fault = o.injector.errorFor();
    if (!fault) return;
    return reply
      .status(fault.error.status)
      .header('retry-after', String(fault.retryAfterSeconds))
      .header('x-ms-error-code', fault.error.code)
      .send(fault.error.toBody());
  });
  app.get(FAULT_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    return o.injector.status();
  });
  app.put(FAULT_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    return o.injector.set(req.body);
  });
  app.delete(FAULT_ADMIN_PATH, async (req) => {
    checkAdmin(req);
    return o.injector.clear();
  });
}

/** A check that a test-only admin request carries the admin secret in FAULT_ADMIN_HEADER (401 otherwise). */
export function adminCheck(adminSecret: string): (req: FastifyRequest) => void {
  const expected = Buffer.from(adminSecret);
  return (req) => {
    const given = Buffer.from(header(req, FAULT_ADMIN_HEADER) ?? '');
    if (expected.length === 0 || given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new CloudError(401, 'AuthenticationFailed', `The fault admin API needs the ${FAULT_ADMIN_HEADER} header.`);
  };
}
