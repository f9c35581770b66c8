// Microsoft.Authorization/roleAssignments at any scope. Synchronous as in Azure. The checks are
// Azure's: the name is a GUID, the role definition id is well formed, the principal exists in
// the tenant (the control plane or a user-assigned identity), assignments are immutable, and the
// same principal/role/scope cannot be assigned twice under different names.
import { isGuid, RESOURCE_TYPES, ROLE_ASSIGNMENT_TYPE, resourceGroupIdOf, scopeCovers } from '../arm-path.js';
import { type ArmContext, type ArmReply, bodyObject, objectField, type ResourceView, type Services } from '../context.js';
import { str } from '../json-text.js';
import { authorizationFailed, badRequest, CloudError, conflict, resourceGroupNotFound } from '../errors.js';
import type { ResourceRecord } from '../state.js';

const SERVED_NAMESPACES = new Set(RESOURCE_TYPES.map((t) => t.split('/')[0]!.toLowerCase()));
const ROLE_DEFINITION = /^(\/subscriptions\/[^/]+)?\/providers\/Microsoft\.Authorization\/roleDefinitions\/([0-9a-f-]{36})$/i;

export class RoleAssignments {
  constructor(private readonly s: Services) {}

  async handle(rawScope: string, name: string | undefined, ctx: ArmContext): Promise<ArmReply> {
    const scope = this.#checkScope(rawScope);
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    // Changing who may do what is the owner's business (the control plane): identities may only read.
    if (!reading && ctx.principal.kind !== 'controlPlane') {
      throw authorizationFailed(ctx.principal.objectId, `${ROLE_ASSIGNMENT_TYPE}/write`, scope);
    }
    if (reading) this.s.authorizer.require(ctx.principal, 'read', scope, ROLE_ASSIGNMENT_TYPE);
    if (name === undefined) {
      if (ctx.method !== 'GET') throw new CloudError(405, 'MethodNotAllowed', `The requested method ${ctx.method} is not allowed here.`);
      return { status: 200, body: { value: this.#list(scope, ctx.query.$filter) } };
    }
    const id = `${scope}/providers/${ROLE_ASSIGNMENT_TYPE}/${name}`;
    const existing = this.s.store.get(id);
    switch (ctx.method) {
      case 'GET':
      case 'HEAD':
        if (!existing || existing.type !== ROLE_ASSIGNMENT_TYPE) {
          throw new CloudError(404, 'RoleAssignmentNotFound', `The role assignment '${name}' is not found.`);
        }
        return { status: 200, body: { ...existing } };
      case 'PUT':
        return this.#put(scope, name, id, existing, ctx);
      case 'DELETE':
        if (!existing) return { status: 204 };
        this.s.store.delete(id);
        return { status: 200, body: { ...existing } };
      default:
        throw new CloudError(405, 'MethodNotAllowed', `The requested method ${ctx.method} is not allowed on a role assignment.`);
    }
  }

  #put(scope: string, name: string, id: string, existing: ResourceRecord | undefined, ctx: ArmContext): ArmReply {
    if (!isGuid(name)) {
      throw badRequest('InvalidRoleAssignmentId', `The role assignment ID '${name}' is not valid. The role assignment ID must be a GUID.`);
    }
    const props = objectField(bodyObject(ctx), 'properties');
    const roleDefinitionId = str(props.roleDefinitionId);
    if (!ROLE_DEFINITION.test(roleDefinitionId)) {
      throw badRequest(
        'InvalidRoleDefinitionId',
        `The role definition ID '${roleDefinitionId}' is not valid: use /subscriptions/{id}/providers/Microsoft.Authorization/roleDefinitions/{guid}.`,
        'properties.roleDefinitionId',
      );
    }
    const principalId = str(props.principalId);
    if (!isGuid(principalId))
      throw badRequest('InvalidPrincipalId', `The principal ID '${principalId}' is not a valid GUID.`, 'properties.principalId');
    const principalType = this.#principalType(principalId);
    if (!principalType) {
      throw badRequest(
        'PrincipalNotFound',
        `Principal ${principalId.replace(/-/g, '')} does not exist in the directory ${this.s.store.state.tenantId}.`,
      );
    }
    const roleGuid = roleDefinitionId.split('/').pop()!.toLowerCase();
    if (existing) {
      const p = existing.properties;
      const same =
        String(p.principalId).toLowerCase() === principalId.toLowerCase() &&
        String(p.roleDefinitionId).split('/').pop()!.toLowerCase() === roleGuid;
      if (!same) {
        throw badRequest(
          'RoleAssignmentUpdateNotPermitted',
          'Tenant ID, application ID, principal ID, and scope are not allowed to be updated.',
        );
      }
      return { status: 200, body: { ...existing } };
    }
    const duplicate = Object.values(this.s.store.state.resources).find(
      (r) =>
        r.type === ROLE_ASSIGNMENT_TYPE &&
        String(r.properties.scope).toLowerCase() === scope.toLowerCase() &&
        String(r.properties.principalId).toLowerCase() === principalId.toLowerCase() &&
        String(r.properties.roleDefinitionId).split('/').pop()!.toLowerCase() === roleGuid,
    );
    if (duplicate)
      throw conflict(
        'RoleAssignmentExists',
        `The role assignment already exists. The ID of the existing role assignment is ${duplicate.name}.`,
      );
    const now = new Date().toISOString();
    const record: ResourceRecord = {
      id,
      name,
      type: ROLE_ASSIGNMENT_TYPE,
      properties: {
        roleDefinitionId,
        principalId,
        principalType: typeof props.principalType === 'string' ? props.principalType : principalType,
        scope,
        ...(typeof props.description === 'string' ? { description: props.description } : {}),
        createdOn: now,
        updatedOn: now,
        createdBy: ctx.principal.objectId,
        updatedBy: ctx.principal.objectId,
      },
    };
    this.s.store.put(record);
    return { status: 201, body: { ...record } };
  }

  /** Assignments at, above and below the scope; `atScope()` drops those below, `principalId eq` filters. */
  #list(scope: string, filter: string | undefined): ResourceView[] {
    const principal = /principalId\s+eq\s+'([^']+)'/i.exec(filter ?? '')?.[1]?.toLowerCase();
    const atScope = /atScope\(\)/i.test(filter ?? '');
    return Object.values(this.s.store.state.resources)
      .filter((r) => r.type === ROLE_ASSIGNMENT_TYPE)
      .filter((r) => {
        const s = String(r.properties.scope);
        return scopeCovers(s, scope) || (!atScope && scopeCovers(scope, s));
      })
      .filter((r) => !principal || String(r.properties.principalId).toLowerCase() === principal)
      .map((r) => ({ ...r }));
  }

  #checkScope(raw: string): string {
    const scope = raw.replace(/\/+$/, '');
    const m = /^\/subscriptions\/([^/]+)(?:\/resourceGroups\/([^/]+))?/i.exec(scope);
    if (!m?.[1] || !isGuid(m[1])) throw badRequest('InvalidScope', `The scope '${raw}' is not valid for role assignments.`);
    // Scopes in providers the twin does not serve (a storage container: that is Azurite) cannot be
    // checked; for the rest the resource group must exist, as in Azure.
    const namespace = /\/providers\/([^/]+)/i.exec(scope)?.[1]?.toLowerCase();
    const served = namespace === undefined || SERVED_NAMESPACES.has(namespace);
    if (m[2] && served && !this.s.store.get(resourceGroupIdOf(m[1], m[2]))) throw resourceGroupNotFound(m[2]);
    return scope;
  }

  #principalType(principalId: string): string | undefined {
    const p = principalId.toLowerCase();
    if (this.s.store.state.servicePrincipal.objectId.toLowerCase() === p) return 'ServicePrincipal';
    const identity = Object.values(this.s.store.state.resources).find(
      (r) => r.type === 'Microsoft.ManagedIdentity/userAssignedIdentities' && String(r.properties.principalId).toLowerCase() === p,
    );
    return identity ? 'ServicePrincipal' : undefined;
  }
}
