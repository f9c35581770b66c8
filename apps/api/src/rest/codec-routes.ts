// Temporal's remote codec protocol (POST /codec/encode, /codec/decode), so SREs read encrypted
// histories in the Temporal UI or CLI (--codec-endpoint <api>/codec --codec-auth "Bearer <token>").
// SRE principals only (see isSre): histories span every tenant. Decode opens only what our codec
// encrypted, so the endpoint cannot be used to smuggle arbitrary payloads past it.
//
// From a browser: the Temporal UI calls /codec from its own origin, so /codec (and nothing else
// of the API) answers CORS for the configured UI origins only. A browser cannot add our bearer
// token to the UI's requests, so an SRE signs in once at /codec/session (a form; the token becomes
// an HttpOnly cookie scoped to /codec) and turns on the UI's "include cross-origin credentials";
// a request authenticated by that cookie must come from one of the UI origins.
import cors from '@fastify/cors';
import type { PayloadCodec } from '@temporalio/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../context.js';
import { ApiError, badRequest } from '../errors.js';
import { isSre } from '../service/authorize.js';

/** The cookie holding an SRE's token for /codec, set by POST /codec/session. */
export const CODEC_SESSION_COOKIE = 'hcs_codec_session';
/** How long a codec session lasts in the browser (the token's own expiry still applies). */
const SESSION_SECONDS = 8 * 3600;

export interface CodecRouteOptions {
  payloadCodec: PayloadCodec;
  /** Origins (scheme://host:port) of the Temporal UIs that may call /codec from a browser. */
  corsOrigins: readonly string[];
  /** Authenticates the request with the given Authorization value (the server's context()). */
  context(req: FastifyRequest, authorization: string | undefined): Promise<RequestContext>;
}

/** Registered with prefix /codec. */
export async function codecRoutes(app: FastifyInstance, o: CodecRouteOptions): Promise<void> {
  const allowed = new Set(o.corsOrigins);
  // Only the UI origins get CORS headers (and preflight answers); any other origin gets none.
  await app.register(cors, {
    delegator: (req, cb) => {
      const origin = req.headers.origin;
      if (!origin || !allowed.has(origin)) return cb(null, { origin: false });
      cb(null, {
        origin,
        credentials: true,
        methods: ['POST'],
        allowedHeaders: ['Content-Type', 'Authorization', 'Authorization-Extras', 'X-Namespace'],
        maxAge: 600,
      });
    },
  });
  // The sign-in form posts application/x-www-form-urlencoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  for (const op of ['encode', 'decode'] as const) {
    app.post(`/${op}`, async (req) => {
      const header = req.headers.authorization;
      const session = header ? undefined : sessionToken(req);
      if (session !== undefined) {
        // A cookie rides along with any cross-site request: accept it only from a UI origin.
        const origin = req.headers.origin;
        if (!origin || !allowed.has(origin))
          throw new ApiError(
            403,
            7,
            'AuthorizationFailed',
            'A codec session (cookie) is accepted only from the configured Temporal UI origins (HCS_CODEC_CORS_ORIGINS); other clients send a bearer token.',
          );
      }
      const ctx = await o.context(req, header ?? (session !== undefined ? `Bearer ${session}` : undefined));
      requireSre(ctx);
      const body = req.body as { payloads?: Array<{ metadata?: Record<string, string>; data?: string }> } | undefined;
      // Protobuf JSON leaves an empty list out: `{}` is no payloads (the CLI sends it for a signal without input).
      if (!body || typeof body !== 'object' || Array.isArray(body) || (body.payloads !== undefined && !Array.isArray(body.payloads)))
        throw badRequest('InvalidRequestContent', 'Send {"payloads": [...]} as Temporal\'s codec protocol does.');
      body.payloads ??= [];
      // Decode opens what our codec encrypted and returns every other payload as it came (the
      // correlation-id header travels in clear), as Temporal's codec protocol expects: the CLI and
      // the UI send all of a history's payloads, and one in clear must not fail the rest.
      const payloads = body.payloads.map((p) => ({
        metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
        data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')),
      }));
      const out = await (op === 'encode' ? o.payloadCodec.encode(payloads) : o.payloadCodec.decode(payloads)).catch((err: unknown) => {
        throw badRequest('InvalidPayload', `The payloads could not be ${op}d: ${err instanceof Error ? err.message : 'error'}.`);
      });
      return {
        payloads: out.map((p) => ({
          metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
          data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
        })),
      };
    });
  }

  // The sign-in form: an SRE pastes a token once; the browser keeps it as an HttpOnly cookie.
  app.get('/session', async (_req, reply) => page(reply, 200, SIGN_IN_FORM));
  app.post('/session', async (req, reply) => {
    const form = req.body as Record<string, unknown> | undefined;
    const token = typeof form?.token === 'string' ? form.token.trim() : '';
    if (!token || /\s/.test(token))
      throw badRequest('InvalidRequestContent', 'Send the form field "token" holding one bearer token.', 'token');
    requireSre(await o.context(req, `Bearer ${token}`));
    reply.header(
      'set-cookie',
      `${CODEC_SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/codec; Max-Age=${SESSION_SECONDS}; HttpOnly; Secure; SameSite=None`,
    );
    return page(reply, 200, '<p>Signed in: the Temporal UI can decode payloads through this codec endpoint.</p>');
  });
  app.delete('/session', async (_req, reply) => {
    reply.header('set-cookie', `${CODEC_SESSION_COOKIE}=; Path=/codec; Max-Age=0; HttpOnly; Secure; SameSite=None`);
    return reply.status(204).send();
  });
}

function requireSre(ctx: RequestContext): void {
  if (!isSre(ctx.caller))
    throw new ApiError(
      403,
      7,
      'AuthorizationFailed',
      'Workflow payloads span every tenant: only SREs (an all-subscription operator token or the HCS.SRE role) may encode or decode them.',
    );
}

function sessionToken(req: FastifyRequest): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === CODEC_SESSION_COOKIE) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function page(reply: FastifyReply, status: number, body: string) {
  return reply
    .status(status)
    .header('content-security-policy', "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
    .header('cache-control', 'no-store')
    .type('text/html; charset=utf-8')
    .send(`<!doctype html><html><head><title>HCS codec sign-in</title></head><body>${body}</body></html>`);
}

const SIGN_IN_FORM = `<h1>Codec sign-in for the Temporal UI</h1>
<form method="post" action="/codec/session">
<label>SRE token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button>
</form>`;
