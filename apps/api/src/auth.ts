// Authentication: who is calling. Three ways in:
//  - Azure Resource Manager by mutual TLS, trusted by client-certificate thumbprint;
//  - a bearer JWT from a configured issuer, verified with jose against the issuer's JWKS
//    (ARM's own tokens, pinned to ARM's application id, or user tokens whose roles/subscriptions
//    claims scope them); the issuer is chosen by iss and aud together, only allow-listed
//    signature algorithms are accepted and exp is required (nbf honoured, with the same skew);
//  - an operator token (SRE tooling), stored only as its SHA-256, with a role and a scope.
// A verified JWT is remembered (VerifiedTokenCache) so the signature is not checked again on
// every request: for at most VERIFIED_TOKEN_TTL_MS and never past the token's exp (with the same
// skew jwtVerify allows), keyed by the SHA-256 of the whole token, so only the very same token
// string - never another token of the same subject, tenant or payload - finds the entry.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Caller, Role } from './context.js';
import { forbidden, unauthenticated } from './errors.js';

export interface JwtIssuerConfig {
  issuer: string;
  audience: string;
  /** Where the issuer publishes its keys; or give the keys inline. */
  jwksUri?: string;
  jwks?: JSONWebKeySet;
  /** arm: tokens of Azure Resource Manager (full access); user: scoped by claims. */
  kind: 'arm' | 'user';
  /**
   * The application ids (appid or azp claim) allowed to call with this issuer's tokens. Required
   * for ARM issuers: any application of ARM's tenant gets tokens from the same issuer.
   */
  applicationIds?: string[];
  /** Accepted signature algorithms; default JWT_ALGORITHMS (asymmetric only). */
  algorithms?: string[];
}

/** Asymmetric algorithms only: an HMAC "signed" with a public key must never verify. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'];
/** Allowed clock skew for exp and nbf, in seconds. */
const CLOCK_SKEW_SECONDS = 60;
/**
 * How long a verified JWT is taken as verified without checking it again: the bound on how late
 * a change of the issuer's keys (a key withdrawn) or of the token's standing reaches a token
 * already seen. exp is honoured exactly whatever this is.
 */
export const VERIFIED_TOKEN_TTL_MS = 60_000;
/** Verified tokens remembered at most; the oldest goes first. */
const VERIFIED_TOKEN_CACHE_SIZE = 10_000;

export interface OperatorTokenConfig {
  name: string;
  /** Hex SHA-256 of the token; the token itself is never configured or stored. */
  sha256: string;
  role: Role;
  subscriptions: '*' | string[];
}

export interface AuthConfig {
  /** SHA-1 or SHA-256 thumbprints (hex, colons optional) of ARM's client certificates. */
  armCertificateThumbprints: string[];
  jwtIssuers: JwtIssuerConfig[];
  operatorTokens: OperatorTokenConfig[];
}

export interface Credentials {
  authorization?: string | undefined;
  /** The TLS client certificate, when the caller presented one. */
  peerCertificate?: { fingerprint: string; fingerprint256: string } | undefined;
}

export type Authenticator = (c: Credentials) => Promise<Caller>;

export interface AuthenticatorOptions {
  /** Wall clock in ms (tests); default Date.now. jwtVerify reads the same clock. */
  now?: () => number;
  /** Default VERIFIED_TOKEN_TTL_MS; 0 verifies every request. */
  verifiedTokenTtlMs?: number;
}

/**
 * Callers of verified JWTs by the token's SHA-256 (the token itself is not kept). An entry lives
 * until the earlier of its TTL and the token's exp plus the allowed skew; the callers are frozen,
 * since every request that finds the entry gets the same object.
 */
export class VerifiedTokenCache {
  private readonly entries = new Map<string, { caller: Caller; until: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly maxEntries = VERIFIED_TOKEN_CACHE_SIZE,
  ) {}

  static key(token: string): string {
    return createHash('sha256').update(token).digest('base64');
  }

  get(key: string): Caller | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (e.until > this.now()) return e.caller;
    this.entries.delete(key);
    return undefined;
  }

  /** Remembers a caller whose token expires at `expSeconds` (the exp claim). */
  set(key: string, caller: Caller, expSeconds: number): Caller {
    // A frozen array is still typed string[]: Caller's readers only read it.
    const subscriptions = caller.subscriptions === '*' ? '*' : (Object.freeze([...caller.subscriptions]) as string[]);
    const frozen: Caller = Object.freeze({ ...caller, subscriptions });
    const now = this.now();
    const until = Math.min(now + this.ttlMs, (expSeconds + CLOCK_SKEW_SECONDS) * 1000);
    if (!(until > now)) return frozen;
    if (!this.entries.has(key) && this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { caller: frozen, until });
    return frozen;
  }

  get size(): number {
    return this.entries.size;
  }
}

const USER_ROLES: Record<string, Role> = { 'HCS.Reader': 'reader', 'HCS.Operator': 'operator', 'HCS.Admin': 'admin' };
/** The app role of our own site reliability engineers (codec endpoint, all subscriptions read-only). */
export const SRE_ROLE = 'HCS.SRE';
const rank: Record<Role, number> = { reader: 0, operator: 1, admin: 2 };

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const normalizeThumbprint = (t: string) => t.replace(/:/g, '').toLowerCase();

export function createAuthenticator(config: AuthConfig, o: AuthenticatorOptions = {}): Authenticator {
  const now = o.now ?? Date.now;
  const verified = new VerifiedTokenCache(o.verifiedTokenTtlMs ?? VERIFIED_TOKEN_TTL_MS, now);
  const thumbprints = new Set(config.armCertificateThumbprints.map(normalizeThumbprint));
  for (const i of config.jwtIssuers) {
    if (i.kind === 'arm' && !i.applicationIds?.length)
      throw new Error(`JWT issuer ${i.issuer} (kind arm) needs applicationIds: ARM's application id to accept tokens from`);
    const unknown = (i.algorithms ?? []).filter((a) => !JWT_ALGORITHMS.includes(a));
    if (unknown.length)
      throw new Error(`JWT issuer ${i.issuer}: algorithms ${unknown.join(', ')} are not allowed; use ${JWT_ALGORITHMS.join(', ')}`);
  }
  const issuers = config.jwtIssuers.map((i) => ({
    ...i,
    algorithms: i.algorithms ?? JWT_ALGORITHMS,
    keys: i.jwks ? createLocalJWKSet(i.jwks) : createRemoteJWKSet(new URL(i.jwksUri!)),
  }));
  const tokens = config.operatorTokens.map((t) => ({ ...t, digest: Buffer.from(t.sha256, 'hex') }));

  return async ({ authorization, peerCertificate }) => {
    if (peerCertificate) {
      const presented = [peerCertificate.fingerprint, peerCertificate.fingerprint256].map(normalizeThumbprint);
      if (presented.some((p) => thumbprints.has(p))) {
        return { subject: `cert:${presented[0]}`, kind: 'arm', role: 'admin', subscriptions: '*' };
      }
      if (!authorization)
        throw forbidden('ClientCertificateNotTrusted', 'The client certificate is not trusted by this resource provider.');
    }
    if (!authorization) throw unauthenticated('No credentials: send a bearer token or a trusted client certificate.');
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <token>".');
    const token = match[1]!;

    if (!token.includes('.')) {
      const digest = createHash('sha256').update(token).digest();
      const found = tokens.find((t) => t.digest.length === digest.length && timingSafeEqual(t.digest, digest));
      if (!found) throw unauthenticated('The operator token is not valid.');
      return { subject: `operator:${found.name}`, kind: 'operator', role: found.role, subscriptions: found.subscriptions };
    }

    const cacheKey = VerifiedTokenCache.key(token);
    const known = verified.get(cacheKey);
    if (known) return known;
    const unverified = decodeClaims(token);
    const audiences = typeof unverified.aud === 'string' ? [unverified.aud] : Array.isArray(unverified.aud) ? unverified.aud : [];
    const issuer = issuers.find((i) => i.issuer === unverified.iss && audiences.includes(i.audience));
    if (!issuer) throw unauthenticated('The token was not issued by a trusted issuer for this audience.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, {
        issuer: issuer.issuer,
        audience: issuer.audience,
        algorithms: issuer.algorithms,
        requiredClaims: ['exp'],
        clockTolerance: CLOCK_SKEW_SECONDS,
        currentDate: new Date(now()),
      }));
    } catch (err) {
      throw unauthenticated(`The token is not valid: ${err instanceof Error ? err.message : 'verification failed'}.`);
    }
    const app = typeof payload.appid === 'string' ? payload.appid : typeof payload.azp === 'string' ? payload.azp : undefined;
    const application = app ? { applicationId: app } : {};
    if (issuer.applicationIds) {
      if (!app || !issuer.applicationIds.includes(app))
        throw unauthenticated('The token was issued to an application this resource provider does not accept (appid/azp).');
    }
    // jwtVerify required exp, a number.
    const exp = payload.exp!;
    const subject = typeof payload.oid === 'string' ? payload.oid : (payload.sub ?? 'unknown');
    if (issuer.kind === 'arm')
      return verified.set(cacheKey, { subject: `arm:${subject}`, kind: 'arm', role: 'admin', subscriptions: '*', ...application }, exp);
    const claimed = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
    const sre = claimed.includes(SRE_ROLE);
    const roles = claimed.map((r) => USER_ROLES[r]).filter((r): r is Role => !!r);
    if (roles.length === 0 && !sre)
      throw forbidden('AuthorizationFailed', `The token carries no HCS role (HCS.Reader, HCS.Operator, HCS.Admin or ${SRE_ROLE}).`);
    const role = roles.length ? roles.reduce((a, b) => (rank[b] > rank[a] ? b : a)) : 'reader';
    const subs = Array.isArray(payload.hcs_subscriptions) ? payload.hcs_subscriptions.map(String) : [];
    return verified.set(
      cacheKey,
      { subject: `user:${subject}`, kind: 'user', role, subscriptions: subs, ...application, ...(sre ? { sre: true } : {}) },
      exp,
    );
  };
}

/** The claims before verification: only to pick the issuer whose keys then verify them. */
function decodeClaims(token: string): { iss?: unknown; aud?: unknown } {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as unknown;
    return payload && typeof payload === 'object' ? payload : {};
  } catch {
    return {};
  }
}
