// ARM's front door for the twin: every `/subscriptions/...` call passes here. In order, as ARM
// does it: request ids, authentication (401), path grammar, api-version (400), RBAC (403),
// resource group and parent existence (404), then the type's handler. Errors leave in ARM's body
// shape from one place (the error handler).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ArmTarget, parseArmPath, parentRef, RESOURCE_GROUP_TYPE, resourceGroupIdOf, resourceIdOf } from './arm-path.js';
import type { ArmContext, ArmReply, Services, TypeHandler } from './context.js';
import { badRequest, CloudError, conflict, parentNotFound, resourceGroupNotFound, resourceNotFound } from './errors.js';
import type { ResourceGroups } from './resources/resource-groups.js';
import type { RoleAssignments } from './resources/role-assignments.js';
import type { TokenService } from './tokens.js';

const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;

export interface RouterDeps extends Services {
  tokens: TokenService;
  handlers: TypeHandler[];
  resourceGroups: ResourceGroups;
  roleAssignments: RoleAssignments;
}

export function registerArmRoutes(app: FastifyInstance, deps: RouterDeps): void {
  const handlers = new Map(deps.handlers.map((h) => [h.type.toLowerCase(), h]));
  const handlerFor = (type: string): TypeHandler => {
    const h = handlers.get(type.toLowerCase());
    if (!h) throw badRequest('InvalidResourceType', `The resource type '${type}' is not served by this cloud.`);
    return h;
  };

  const route = async (req: FastifyRequest, reply: FastifyReply) => {
    // Clients join `/{scope}` templates with scopes that start with '/', so paths arrive with '//'.
    const [path = '', search = ''] = req.url.split(/\?(.*)/s, 2);
    const url = new URL(`${path.replace(/\/{2,}/g, '/')}${search ? `?${search}` : ''}`, 'https://local');
    const baseUrl = `https://${req.host}`;
    const principal = await deps.tokens.verifyArmCall(header(req, 'authorization'), baseUrl);
    const query = Object.fromEntries(url.searchParams.entries());
    const ctx: ArmContext = {
      method: req.method,
      principal,
      baseUrl,
      apiVersion: query['api-version'] ?? '',
      query,
      body: req.body,
      headers: Object.fromEntries(Object.keys(req.headers).map((k) => [k, header(req, k)])),
    };
    if (url.pathname.replace(/\/+$/, '').toLowerCase() === '/subscriptions') {
      checkApiVersion(ctx);
      return send(reply, { status: 200, body: { value: [subscriptionView(deps, deps.store.state.subscriptionId)] } });
    }
    const target = parseArmPath(url.pathname);
    if (!target) throw new CloudError(404, 'NotFound', `No API answers ${req.method} ${url.pathname}.`);
    checkApiVersion(ctx);
    return send(reply, await dispatch(target, ctx));
  };
  app.route({ method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'], url: '/subscriptions', handler: route });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'PATCH', 'DELETE', 'POST'], url: '/subscriptions/*', handler: route });

  async function dispatch(target: ArmTarget, ctx: ArmContext): Promise<ArmReply> {
    const { authorizer, principal } = { authorizer: deps.authorizer, principal: ctx.principal };
    switch (target.kind) {
      case 'subscription':
        if (ctx.method !== 'GET') throw methodNotAllowed(ctx);
        return { status: 200, body: subscriptionView(deps, target.subscriptionId) };
      case 'resourceGroupList': {
        if (ctx.method !== 'GET') throw methodNotAllowed(ctx);
        const all = deps.resourceGroups.list(target.subscriptionId);
        return { status: 200, body: { value: all.filter((r) => authorizer.allows(principal, 'read', String(r.id))) } };
      }
      case 'resourceGroup': {
        const id = resourceGroupIdOf(target.subscriptionId, target.resourceGroup);
        authorizer.require(principal, ctx.method === 'GET' || ctx.method === 'HEAD' ? 'read' : 'write', id, RESOURCE_GROUP_TYPE);
        return deps.resourceGroups.handle(target.subscriptionId, target.resourceGroup, ctx);
      }
      case 'roleAssignment':
        return deps.roleAssignments.handle(target.scope, target.name, ctx);
      case 'operation':
      case 'resourceGroupOperation':
        return operationReply(target, ctx);
      case 'list': {
        if (ctx.method !== 'GET') throw methodNotAllowed(ctx);
        const h = handlerFor(target.type);
        let scope = `/subscriptions/${target.subscriptionId}`;
        if (target.resourceGroup !== undefined) scope = requireGroup(target.subscriptionId, target.resourceGroup);
        if (target.parent) {
          const parent = { ...target.parent, resourceGroup: deps.resourceGroups.storedName(target.parent) };
          scope = resourceIdOf(parent);
          if (!handlerFor(parent.type).read(scope, ctx)) throw resourceNotFound(scope);
        }
        const value = h.list(scope, ctx).filter((r) => authorizer.allows(principal, 'read', String(r.id)));
        return { status: 200, body: { value } };
      }
      case 'resource':
        return resourceReply(target, ctx);
    }
  }

  async function resourceReply(target: Extract<ArmTarget, { kind: 'resource' }>, ctx: ArmContext): Promise<ArmReply> {
    const rg = requireGroup(target.ref.subscriptionId, target.ref.resourceGroup);
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && deps.store.get(rg)?.properties.provisioningState === 'Deleting') {
      throw conflict(
        'ResourceGroupBeingDeleted',
        `The resource group '${target.ref.resourceGroup}' is in deprovisioning state and cannot perform this operation.`,
      );
    }
    const ref = { ...target.ref, resourceGroup: rg.split('/').pop()! };
    const id = resourceIdOf(ref);
    const h = handlerFor(ref.type);
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    deps.authorizer.require(ctx.principal, reading ? 'read' : 'write', id, ref.type);
    const parent = parentRef(ref);
    if (parent && !handlerFor(parent.type).read(resourceIdOf(parent), ctx)) {
      if (reading) throw resourceNotFound(resourceIdOf(parent));
      throw parentNotFound(parent.names.join('/'));
    }
    if (target.action) {
      const name = target.action.toLowerCase();
      const action = h.actions?.[name];
      // instanceView is the one read among the sub-resources addressed like actions.
      const method = name === 'instanceview' ? 'GET' : 'POST';
      if (ctx.method !== method || !action) throw new CloudError(404, 'NotFound', `No ${ctx.method} '${target.action}' on ${ref.type}.`);
      if (!h.read(id, ctx)) throw resourceNotFound(id);
      return action(ref, id, ctx);
    }
    switch (ctx.method) {
      case 'GET':
      case 'HEAD': {
        const view = h.read(id, ctx);
        if (!view) throw resourceNotFound(id);
        return { status: 200, body: view, ...etagHeader(view) };
      }
      case 'PUT':
        if (!h.put) throw methodNotAllowed(ctx);
        return h.put(ref, id, ctx);
      case 'PATCH':
        if (!h.patch) throw methodNotAllowed(ctx);
        if (!h.read(id, ctx)) throw resourceNotFound(id);
        return h.patch(ref, id, ctx);
      case 'DELETE':
        if (!h.delete) throw methodNotAllowed(ctx);
        return h.delete(ref, id, ctx);
      default:
        throw methodNotAllowed(ctx);
    }
  }

  // Azure-AsyncOperation answers 200 with the operation's state; Location answers 202 while it
  // runs and then what the synchronous call would have answered.
  function operationReply(target: Extract<ArmTarget, { kind: 'operation' | 'resourceGroupOperation' }>, ctx: ArmContext): ArmReply {
    const op = deps.operations.get(target.operationId);
    const visible =
      op &&
      op.subscriptionId.toLowerCase() === target.subscriptionId.toLowerCase() &&
      (ctx.principal.kind === 'controlPlane' || op.startedBy === ctx.principal.objectId);
    if (!visible) throw new CloudError(404, 'OperationNotFound', `The operation '${target.operationId}' was not found.`);
    const asResult = target.kind === 'resourceGroupOperation' || target.result || ctx.query.monitor === 'true';
    if (!asResult) return { status: 200, body: deps.operations.statusBody(op), headers: { ...deps.operations.pollHeaders } };
    if (op.status === 'InProgress') {
      return {
        status: 202,
        headers: { Location: deps.operations.resultUrl(op, ctx.baseUrl, ctx.apiVersion), ...deps.operations.pollHeaders },
      };
    }
    if (op.status === 'Failed' || op.status === 'Canceled') {
      const error = op.error ?? { code: 'OperationCanceled', message: 'The operation was canceled.' };
      return { status: op.status === 'Canceled' ? 409 : 400, body: { error }, headers: { 'x-ms-error-code': error.code } };
    }
    const type = typeof op.params?.resultType === 'string' ? op.params.resultType : undefined;
    const view = type ? handlerFor(type).read(op.resourceId, ctx) : undefined;
    return view ? { status: 200, body: view } : { status: 200 };
  }

  /** The resource group's id in its stored casing; 404 ResourceGroupNotFound when absent. */
  function requireGroup(subscriptionId: string, name: string): string {
    const rg = deps.store.get(resourceGroupIdOf(subscriptionId, name));
    if (!rg) throw resourceGroupNotFound(name);
    return rg.id;
  }
}

function subscriptionView(deps: RouterDeps, subscriptionId: string): Record<string, unknown> {
  return {
    id: `/subscriptions/${subscriptionId}`,
    subscriptionId,
    tenantId: deps.tokens.tenantId,
    displayName: 'HCS local cloud',
    state: 'Enabled',
    subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    authorizationSource: 'RoleBased',
  };
}

function checkApiVersion(ctx: ArmContext): void {
  if (!ctx.apiVersion) {
    throw badRequest(
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.',
      'api-version',
    );
  }
  if (!API_VERSION.test(ctx.apiVersion)) {
    throw badRequest(
      'UnsupportedApiVersionValue',
      `The api-version '${ctx.apiVersion}' is invalid. The supported versions are dates in the form YYYY-MM-DD or YYYY-MM-DD-preview.`,
      'api-version',
    );
  }
}

function methodNotAllowed(ctx: ArmContext): CloudError {
  return new CloudError(405, 'MethodNotAllowed', `The requested method ${ctx.method} is not allowed on this resource.`);
}

function etagHeader(view: Record<string, unknown>): { headers?: Record<string, string> } {
  return typeof view.etag === 'string' ? { headers: { ETag: view.etag } } : {};
}

function send(reply: FastifyReply, r: ArmReply): FastifyReply {
  reply.status(r.status);
  for (const [k, v] of Object.entries(r.headers ?? {})) reply.header(k, v);
  if (reply.request.method === 'HEAD' || r.body === undefined) return reply.send();
  return reply.send(r.body);
}

export function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
