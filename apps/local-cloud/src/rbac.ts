// Role-based access for managed identities: a VM's identity reaches exactly what a role
// assignment grants it, at that assignment's scope and below - the property the product relies on
// (each cluster's identity reads its own things only). The control plane's service principal is
// the subscription's owner and may do anything.
import { ROLE_ASSIGNMENT_TYPE, scopeCovers } from './arm-path.js';
import { str } from './json-text.js';
import { authorizationFailed } from './errors.js';
import type { ResourceRecord, StateStore } from './state.js';
import type { Principal } from './tokens.js';

export type Access = 'read' | 'write';

/**
 * Built-in roles that allow changes through ARM (Owner, Contributor, Virtual Machine / Network /
 * Managed Identity Contributor). Any other role (Reader, data roles such as Storage Blob Data
 * Reader) grants reads only.
 */
const WRITE_ROLES = new Set([
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
  'b24988ac-6180-42a0-ab88-20f7382dd24c',
  '9980e02c-c2be-4d73-94e8-173b1dc7cf3c',
  '4d97b98b-1d4f-4787-a291-c67834d212e7',
  'e40ec5ca-96e0-45a2-b4ff-59039f2c2b59',
]);

export class Authorizer {
  constructor(private readonly store: StateStore) {}

  allows(principal: Principal, access: Access, resourceId: string): boolean {
    if (principal.kind === 'controlPlane') return true;
    return this.assignmentsOf(principal.objectId).some(
      (a) => scopeCovers(str(a.properties.scope), resourceId) && (access === 'read' || WRITE_ROLES.has(roleGuid(a))),
    );
  }

  /** Throws ARM's 403 AuthorizationFailed naming the action and scope. */
  require(principal: Principal, access: Access, resourceId: string, resourceType: string): void {
    if (this.allows(principal, access, resourceId)) return;
    const verb = access === 'read' ? 'read' : 'write';
    throw authorizationFailed(principal.objectId, `${resourceType}/${verb}`, resourceId);
  }

  private assignmentsOf(principalId: string): ResourceRecord[] {
    const p = principalId.toLowerCase();
    return Object.values(this.store.state.resources).filter(
      (r) => r.type === ROLE_ASSIGNMENT_TYPE && str(r.properties.principalId).toLowerCase() === p,
    );
  }
}

function roleGuid(assignment: ResourceRecord): string {
  return str(assignment.properties.roleDefinitionId).split('/').pop()!.toLowerCase();
}
