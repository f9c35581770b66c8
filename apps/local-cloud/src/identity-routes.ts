// The twin's Entra ID side: the OAuth2 client-credentials token endpoint (what
// ClientSecretCredential and azidentity call, found through OpenID discovery), and the managed
// identity endpoint instances call in the App Service 2019-08-01 protocol that
// @azure/identity's ManagedIdentityCredential (via MSAL) uses when IDENTITY_ENDPOINT and
// IDENTITY_HEADER are set. Errors follow Entra's `{ error, error_description, error_codes }` shape.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Services } from './context.js';
import { str } from './json-text.js';
import { findIdentity } from './resources/identities.js';
import { header } from './router.js';
import type { TokenService } from './tokens.js';

export interface IdentityRouteDeps extends Services {
  tokens: TokenService;
  /** IDENTITY_HEADER secret -> id of the scale set whose instance holds it. */
  identityHeaders: Map<string, string>;
}

export function registerIdentityRoutes(app: FastifyInstance, deps: IdentityRouteDeps): void {
  const base = (req: FastifyRequest) => `https://${req.host}`;
  // "adfs" is an alias of the twin's tenant: MSAL (Go and JS) skips Azure AD instance
  // discovery - a call to login.microsoftonline.com - for an ADFS authority.
  const tenantOk = (t: string) => t.toLowerCase() === deps.tokens.tenantId.toLowerCase() || t.toLowerCase() === 'adfs';

  const discovery = (version: 'v1' | 'v2') => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    if (!tenantOk(req.params.tenant)) return tenantNotFound(reply, req.params.tenant);
    const root = `${base(req)}/${req.params.tenant}`;
    const v = version === 'v2' ? '/v2.0' : '';
    return {
      issuer: version === 'v2' ? `${root}/v2.0` : deps.tokens.issuer,
      token_endpoint: `${root}/oauth2${v}/token`,
      authorization_endpoint: `${root}/oauth2${v}/authorize`,
      end_session_endpoint: `${root}/oauth2${v}/logout`,
      jwks_uri: `${root}/discovery${v}/keys`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
      response_types_supported: ['token'],
      grant_types_supported: ['client_credentials'],
      id_token_signing_alg_values_supported: ['ES256'],
      subject_types_supported: ['pairwise'],
      tenant_region_scope: null,
      cloud_instance_name: req.hostname,
    };
  };
  app.get('/:tenant/v2.0/.well-known/openid-configuration', discovery('v2'));
  app.get('/:tenant/.well-known/openid-configuration', discovery('v1'));
  app.get('/:tenant/discovery/v2.0/keys', async () => deps.tokens.jwks());
  app.get('/:tenant/discovery/keys', async () => deps.tokens.jwks());

  // MSAL's instance discovery for authority hosts it does not know (when not disabled).
  app.get('/common/discovery/instance', async (req) => {
    const endpoint = str((req.query as Record<string, unknown>).authorization_endpoint);
    const tenant = /\/([^/]+)\/oauth2\//.exec(endpoint)?.[1] ?? deps.tokens.tenantId;
    return {
      tenant_discovery_endpoint: `${base(req)}/${tenant}/v2.0/.well-known/openid-configuration`,
      'api-version': '1.1',
      metadata: [{ preferred_network: req.host, preferred_cache: req.host, aliases: [req.host] }],
    };
  });

  const tokenEndpoint = (version: 'v1' | 'v2') => async (req: FastifyRequest<{ Params: { tenant: string } }>, reply: FastifyReply) => {
    if (!tenantOk(req.params.tenant)) return tenantNotFound(reply, req.params.tenant);
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    if (form.grant_type !== 'client_credentials') {
      return aadError(
        reply,
        400,
        'unsupported_grant_type',
        70003,
        `The app requested an unsupported grant type '${form.grant_type ?? ''}'.`,
      );
    }
    let clientId = form.client_id ?? '';
    let clientSecret = form.client_secret ?? '';
    const basic = /^Basic\s+(\S+)$/i.exec(header(req, 'authorization') ?? '')?.[1];
    if (basic) [clientId = '', clientSecret = ''] = Buffer.from(basic, 'base64').toString('utf8').split(':').map(decodeURIComponent);
    const resource = resourceOf(form.scope) ?? (version === 'v1' ? form.resource : undefined);
    if (!resource) {
      return aadError(
        reply,
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${form.scope ?? ''} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`,
      );
    }
    if (!deps.tokens.checkClientCredentials(clientId, clientSecret)) {
      return aadError(
        reply,
        401,
        'invalid_client',
        7000215,
        'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.',
      );
    }
    const sp = deps.store.state.servicePrincipal;
    const { accessToken, expiresOn } = await deps.tokens.issue({ audience: resource, objectId: sp.objectId, clientId: sp.clientId });
    const expiresIn = expiresOn - Math.floor(Date.now() / 1000);
    return {
      token_type: 'Bearer',
      expires_in: expiresIn,
      ext_expires_in: expiresIn,
      access_token: accessToken,
      ...(version === 'v1' ? { resource } : {}),
    };
  };
  app.post('/:tenant/oauth2/v2.0/token', tokenEndpoint('v2'));
  app.post('/:tenant/oauth2/token', tokenEndpoint('v1'));

  // App Service managed identity, API 2019-08-01: GET ?resource=&client_id=|object_id=|mi_res_id=
  // with the per-instance secret in X-IDENTITY-HEADER.
  app.get('/msi/token', async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const secret = header(req, 'x-identity-header') ?? '';
    const vmssId = deps.identityHeaders.get(secret);
    const forControlPlane = secret !== '' && secret === deps.tokens.controlPlaneIdentityHeader;
    if (!vmssId && !forControlPlane) return msiError(reply, 401, 'The X-IDENTITY-HEADER is missing or not valid for any instance.');
    if (q['api-version'] !== '2019-08-01') return msiError(reply, 400, "api-version must be '2019-08-01'.");
    const resource = q.resource?.replace(/\/\.default$/, '');
    if (!resource) return msiError(reply, 400, 'The resource parameter is required.');
    if (forControlPlane) {
      // The control plane's own managed identity (the worker's, in Azure): its service principal.
      const sp = deps.store.state.servicePrincipal;
      const { accessToken, expiresOn } = await deps.tokens.issue({ audience: resource, objectId: sp.objectId, clientId: sp.clientId });
      return {
        access_token: accessToken,
        expires_on: String(expiresOn),
        resource: q.resource,
        token_type: 'Bearer',
        client_id: sp.clientId,
      };
    }
    const assigned = Object.keys(((deps.store.get(vmssId!)?.identity ?? {}).userAssignedIdentities ?? {}) as Record<string, unknown>)
      .map((id) => findIdentity(deps, { id }))
      .filter((r) => r !== undefined);
    const wanted = q.client_id ?? q.object_id ?? q.principal_id ?? q.mi_res_id;
    const identity = wanted
      ? assigned.find((r) =>
          [r.properties.clientId, r.properties.principalId, r.id].some((v) => String(v).toLowerCase() === wanted.toLowerCase()),
        )
      : assigned.length === 1
        ? assigned[0]
        : undefined;
    if (!identity) {
      const why = wanted
        ? `no identity '${wanted}' is assigned to this scale set`
        : `this scale set has ${assigned.length} user-assigned identities; name one with client_id`;
      return msiError(reply, 400, `Identity not found: ${why}.`);
    }
    const { accessToken, expiresOn } = await deps.tokens.issue({
      audience: resource,
      objectId: String(identity.properties.principalId),
      clientId: String(identity.properties.clientId),
      identityId: identity.id,
    });
    return {
      access_token: accessToken,
      expires_on: String(expiresOn),
      resource: q.resource,
      token_type: 'Bearer',
      client_id: identity.properties.clientId,
    };
  });
}

/**
 * The resource of a client-credentials scope. MSAL Go adds "openid offline_access profile",
 * which Entra ignores for this grant; exactly one `{resource}/.default` must remain.
 */
function resourceOf(scope: string | undefined): string | undefined {
  const scopes = (scope ?? '').split(/\s+/).filter((x) => x && !['openid', 'offline_access', 'profile'].includes(x));
  return scopes.length === 1 ? /^(.+)\/\.default$/.exec(scopes[0]!)?.[1] : undefined;
}

function aadError(reply: FastifyReply, status: number, error: string, code: number, description: string): FastifyReply {
  const traceId = randomUUID();
  return reply.status(status).send({
    error,
    error_description: `AADSTS${code}: ${description} Trace ID: ${traceId}`,
    error_codes: [code],
    timestamp: new Date().toISOString().replace('T', ' ').replace('Z', 'Z'),
    trace_id: traceId,
    correlation_id: randomUUID(),
  });
}

function tenantNotFound(reply: FastifyReply, tenant: string): FastifyReply {
  return aadError(reply, 400, 'invalid_tenant', 90002, `Tenant '${tenant}' not found.`);
}

function msiError(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.status(status).send({ error: { code: status === 401 ? 'Unauthorized' : 'BadRequest', message }, message });
}
