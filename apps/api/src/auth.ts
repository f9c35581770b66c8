// Authentication: who is calling. Three ways in:
//  - Azure Resource Manager by mutual TLS, trusted by client-certificate thumbprint;
//  - a bearer JWT from a configured issuer, verified with jose against the issuer's JWKS
//    (ARM's own tokens, or user tokens whose roles/subscriptions claims scope them);
//  - an operator token (SRE tooling), stored only as its SHA-256, with a role and a scope.
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
}

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

const USER_ROLES: Record<string, Role> = { 'HCS.Reader': 'reader', 'HCS.Operator': 'operator', 'HCS.Admin': 'admin' };
const rank: Record<Role, number> = { reader: 0, operator: 1, admin: 2 };

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const normalizeThumbprint = (t: string) => t.replace(/:/g, '').toLowerCase();

export function createAuthenticator(config: AuthConfig): Authenticator {
  const thumbprints = new Set(config.armCertificateThumbprints.map(normalizeThumbprint));
  const issuers = config.jwtIssuers.map((i) => ({
    ...i,
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

    const unverified = decodeIssuer(token);
    const issuer = issuers.find((i) => i.issuer === unverified);
    if (!issuer) throw unauthenticated('The token was not issued by a trusted issuer.');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, issuer.keys, { issuer: issuer.issuer, audience: issuer.audience, clockTolerance: 60 }));
    } catch (err) {
      throw unauthenticated(`The token is not valid: ${err instanceof Error ? err.message : 'verification failed'}.`);
    }
    const subject = typeof payload.oid === 'string' ? payload.oid : (payload.sub ?? 'unknown');
    if (issuer.kind === 'arm') return { subject: `arm:${subject}`, kind: 'arm', role: 'admin', subscriptions: '*' };
    const roles = (Array.isArray(payload.roles) ? payload.roles : []).map((r) => USER_ROLES[String(r)]).filter((r): r is Role => !!r);
    if (roles.length === 0)
      throw forbidden('AuthorizationFailed', 'The token carries no HCS role (HCS.Reader, HCS.Operator or HCS.Admin).');
    const role = roles.reduce((a, b) => (rank[b] > rank[a] ? b : a));
    const subs = Array.isArray(payload.hcs_subscriptions) ? payload.hcs_subscriptions.map(String) : [];
    return { subject: `user:${subject}`, kind: 'user', role, subscriptions: subs };
  };
}

function decodeIssuer(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown };
    return typeof payload.iss === 'string' ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}
