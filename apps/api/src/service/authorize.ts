// Authorization rules shared by every handler: role and subscription scope.
import type { Caller, RequestContext, Role } from '../context.js';
import { forbidden, notFound } from '../errors.js';

const rank: Record<Role, number> = { reader: 0, operator: 1, admin: 2 };

/** A caller scoped to other subscriptions learns nothing: the answer is 404, as for a missing resource. */
export function requireSubscription(ctx: RequestContext, subscriptionId: string, what: string): void {
  if (!canSee(ctx.caller, subscriptionId)) throw notFound(what);
}

export function canSee(caller: Caller, subscriptionId: string): boolean {
  return caller.subscriptions === '*' || caller.subscriptions.some((s) => s.toLowerCase() === subscriptionId.toLowerCase());
}

export function requireRole(ctx: RequestContext, role: Role): void {
  if (rank[ctx.caller.role] < rank[role]) {
    throw forbidden(
      'AuthorizationFailed',
      `The caller '${ctx.caller.subject}' has role '${ctx.caller.role}'; this request needs '${role}' or higher.`,
    );
  }
}
