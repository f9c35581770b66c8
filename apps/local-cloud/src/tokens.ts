// Access tokens: the twin is its own Entra ID. It signs JWTs with a key kept in dataDir (so
// tokens outlive a twin restart, as Entra tokens outlive an ARM deployment) and verifies them on
// every ARM call. Claims follow Entra's v1 access tokens (iss sts.windows.net/{tenant}/, oid,
// appid, tid, xms_mirid for managed identities) so code that reads them behaves as against Azure.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { str } from './json-text.js';
import { unauthenticated } from './errors.js';
import type { CloudState } from './state.js';

/** Who is calling: the control plane's service principal, or a VM's user-assigned identity. */
export interface Principal {
  kind: 'controlPlane' | 'managedIdentity';
  objectId: string;
  clientId: string;
  /** Resource id of the user-assigned identity (managed identities only). */
  identityId?: string;
}

export interface IssueTokenInput {
  audience: string;
  objectId: string;
  clientId: string;
  identityId?: string;
}

/** Audiences ARM accepts; the twin's own origin too, for clients that derive the scope from the endpoint. */
const ARM_AUDIENCES = ['https://management.azure.com', 'https://management.core.windows.net'];
const TOKEN_LIFETIME_SECONDS = 3600;

export class TokenService {
  readonly issuer: string;
  readonly #kid: string;

  private constructor(
    private readonly state: CloudState,
    readonly clientSecret: string,
    /** IDENTITY_HEADER that makes the managed-identity endpoint answer for the control plane itself. */
    readonly controlPlaneIdentityHeader: string,
    private readonly privateKey: CryptoKey,
    private readonly publicKey: CryptoKey,
    private readonly publicJwk: JWK,
  ) {
    this.issuer = `https://sts.windows.net/${state.tenantId}/`;
    this.#kid = this.publicJwk.kid ?? 'local-cloud';
  }

  /** Loads (or makes, on first start) the signing key and the control plane's client secret. */
  static async open(dataDir: string, state: CloudState): Promise<TokenService> {
    const keyFile = join(dataDir, 'signing-key.jwk.json');
    if (!existsSync(keyFile)) {
      const { privateKey } = await generateKeyPair('ES256', { extractable: true });
      const jwk = { ...(await exportJWK(privateKey)), kid: randomUUID(), alg: 'ES256' };
      writeFileSync(keyFile, JSON.stringify(jwk), { mode: 0o600 });
    }
    const jwk = JSON.parse(readFileSync(keyFile, 'utf8')) as JWK;
    const privateKey = (await importJWK(jwk, 'ES256')) as CryptoKey;
    const { d: _d, ...publicJwk } = jwk;
    const publicKey = (await importJWK(publicJwk, 'ES256')) as CryptoKey;

    const credFile = join(dataDir, 'credentials.json');
    if (!existsSync(credFile)) {
      const creds = {
        clientId: state.servicePrincipal.clientId,
        clientSecret: randomBytes(32).toString('base64url'),
        identityHeader: randomBytes(32).toString('base64url'),
      };
      writeFileSync(credFile, JSON.stringify(creds), { mode: 0o600 });
    }
    const { clientSecret, identityHeader } = JSON.parse(readFileSync(credFile, 'utf8')) as { clientSecret: string; identityHeader: string };
    return new TokenService(state, clientSecret, identityHeader, privateKey, publicKey, publicJwk);
  }

  get tenantId(): string {
    return this.state.tenantId;
  }

  /** The published verification keys (`jwks_uri`). */
  jwks(): { keys: JWK[] } {
    return { keys: [{ ...this.publicJwk, use: 'sig' }] };
  }

  /** Constant-time check of the control plane's client credentials. */
  checkClientCredentials(clientId: string, clientSecret: string): boolean {
    const digest = (s: string) => createHash('sha256').update(s).digest();
    return (
      clientId.toLowerCase() === this.state.servicePrincipal.clientId.toLowerCase() &&
      timingSafeEqual(digest(clientSecret), digest(this.clientSecret))
    );
  }

  async issue(input: IssueTokenInput): Promise<{ accessToken: string; expiresOn: number }> {
    const now = Math.floor(Date.now() / 1000);
    const expiresOn = now + TOKEN_LIFETIME_SECONDS;
    const claims: Record<string, unknown> = {
      tid: this.state.tenantId,
      oid: input.objectId,
      appid: input.clientId,
      appidacr: input.identityId ? '2' : '1',
      idp: this.issuer,
      idtyp: 'app',
      ver: '1.0',
      ...(input.identityId ? { xms_mirid: input.identityId } : {}),
    };
    const accessToken = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid: this.#kid })
      .setIssuer(this.issuer)
      .setAudience(input.audience)
      .setSubject(input.objectId)
      .setIssuedAt(now)
      .setNotBefore(now - 60)
      .setExpirationTime(expiresOn)
      .setJti(randomUUID())
      .sign(this.privateKey);
    return { accessToken, expiresOn };
  }

  /**
   * Verifies an ARM call's bearer token (or, with `audiences`, a token for another API the twin
   * serves, such as the Marketplace Metering Service); 401 with ARM's codes otherwise.
   */
  async verifyArmCall(authorization: string | undefined, ownOrigin: string, audiences: string[] = ARM_AUDIENCES): Promise<Principal> {
    if (!authorization) throw unauthenticated('AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing.");
    const m = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (!m?.[1]) {
      throw unauthenticated('AuthenticationFailed', "Authentication failed. The 'Authorization' header is provided in an invalid format.");
    }
    const accepted = [...audiences, ownOrigin].flatMap((a) => [a, `${a}/`]);
    try {
      const { payload } = await jwtVerify(m[1], this.publicKey, { issuer: this.issuer, audience: accepted, algorithms: ['ES256'] });
      const objectId = str(payload.oid);
      const clientId = str(payload.appid);
      if (objectId === this.state.servicePrincipal.objectId) return { kind: 'controlPlane', objectId, clientId };
      if (typeof payload.xms_mirid === 'string') return { kind: 'managedIdentity', objectId, clientId, identityId: payload.xms_mirid };
      throw new Error('unknown principal');
    } catch (err) {
      const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
      throw expired
        ? unauthenticated('ExpiredAuthenticationToken', 'The access token expiry UTC time is earlier than current UTC time.')
        : unauthenticated('InvalidAuthenticationToken', 'The access token is invalid.');
    }
  }
}
