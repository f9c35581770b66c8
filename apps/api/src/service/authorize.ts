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

export function hasRole(ctx: RequestContext, role: Role): boolean {
  return rank[ctx.caller.role] >= rank[role];
}

export function requireRole(ctx: RequestContext, role: Role): void {
  if (!hasRole(ctx, role)) {
    throw forbidden(
      'AuthorizationFailed',
      `The caller '${ctx.caller.subject}' has role '${ctx.caller.role}'; this request needs '${role}' or higher.`,
    );
  }
}

/**
 * Our own engineers: an operator token scoped to every subscription (operator or admin role), or
 * a user token with the HCS.SRE app role. Never ARM, never a customer's operator or admin.
 */
export function isSre(caller: Caller): boolean {
  if (caller.kind === 'user') return caller.sre === true;
  return caller.kind === 'operator' && caller.subscriptions === '*' && rank[caller.role] >= rank.operator;
}

/**
 * Who may speak for a subscription (its lifecycle state, Marketplace notifications): Azure
 * Resource Manager itself, or an admin operator token scoped to every subscription (replays by
 * our SREs). A customer's admin - whatever its subscriptions - never may.
 */
export function requireArmOrPlatformAdmin(ctx: RequestContext, what: string): void {
  const c = ctx.caller;
  if (c.kind === 'arm' || (c.kind === 'operator' && c.subscriptions === '*' && c.role === 'admin')) return;
  throw forbidden('AuthorizationFailed', `Only Azure Resource Manager or a platform admin may send ${what}; '${c.subject}' may not.`);
}
