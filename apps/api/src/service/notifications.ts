// NotificationService: ARM subscription lifecycle and Marketplace managed-application events.
import { createHash } from 'node:crypto';
import { detail, throwIfAny, describeValue } from '../../../../domain/errors.js';
import { checkSubscriptionId } from '../../../../domain/resource-id.js';
import type { SqlDatabase } from '../../../../store/database.js';
import { putSubscription, recordNotification, SUBSCRIPTION_STATES, type SubscriptionState } from '../../../../store/subscriptions.js';
import type { RequestContext } from '../context.js';
import { requireArmOrPlatformAdmin } from './authorize.js';
import type { ClusterHandlers } from './clusters.js';

interface SubscriptionBody {
  state?: unknown;
  registrationDate?: unknown;
  properties?: { tenantId?: unknown; locationPlacementId?: unknown; quotaId?: unknown } & Record<string, unknown>;
}

const EVENT_TYPES = ['PUT', 'PATCH', 'DELETE'];
const APP_STATES = ['Accepted', 'Succeeded', 'Failed', 'Deleting', 'Deleted'];

export function notificationHandlers(deps: { db: SqlDatabase; clusters: ClusterHandlers }) {
  const { db } = deps;
  return {
    async putSubscription(req: { subscriptionId: string }, ctx: RequestContext): Promise<{ subscription: SubscriptionBody }> {
      requireArmOrPlatformAdmin(ctx, 'subscription lifecycle states');
      const body = (ctx.rawBody ?? {}) as SubscriptionBody;
      const state = body.state;
      throwIfAny([
        ...checkSubscriptionId(req.subscriptionId),
        ...(typeof state === 'string' && (SUBSCRIPTION_STATES as readonly string[]).includes(state)
          ? []
          : [
              detail(
                'InvalidSubscriptionState',
                `state must be one of ${SUBSCRIPTION_STATES.join(', ')}; got ${describeValue(state)}`,
                'state',
              ),
            ]),
      ]);
      const tenantId = typeof body.properties?.tenantId === 'string' ? body.properties.tenantId : null;
      await putSubscription(db, {
        subscriptionId: req.subscriptionId,
        state: state as SubscriptionState,
        tenantId,
        properties: body.properties ?? {},
      });
      if (state === 'Deleted') await deps.clusters.deleteAllInSubscription(req.subscriptionId, ctx);
      return { subscription: body };
    },

    async notifyResource(_req: unknown, ctx: RequestContext): Promise<{ firstDelivery: boolean }> {
      requireArmOrPlatformAdmin(ctx, 'resource notifications');
      const n = (ctx.rawBody ?? {}) as Record<string, unknown>;
      throwIfAny([
        ...(EVENT_TYPES.includes(n.eventType as string)
          ? []
          : [
              detail(
                'InvalidParameter',
                `eventType must be one of ${EVENT_TYPES.join(', ')}; got ${describeValue(n.eventType)}`,
                'eventType',
              ),
            ]),
        ...(typeof n.applicationId === 'string' && n.applicationId.startsWith('/subscriptions/')
          ? []
          : [
              detail(
                'InvalidParameter',
                `applicationId must be a resource id starting with /subscriptions/; got ${describeValue(n.applicationId)}`,
                'applicationId',
              ),
            ]),
        ...(APP_STATES.includes(n.provisioningState as string)
          ? []
          : [
              detail(
                'InvalidParameter',
                `provisioningState must be one of ${APP_STATES.join(', ')}; got ${describeValue(n.provisioningState)}`,
                'provisioningState',
              ),
            ]),
        ...(typeof n.eventTime === 'string' && !Number.isNaN(Date.parse(n.eventTime))
          ? []
          : [detail('InvalidParameter', `eventTime must be an RFC 3339 time; got ${describeValue(n.eventTime)}`, 'eventTime')]),
      ]);
      // Azure retries for hours: the same event must be recorded once.
      const notificationId = createHash('sha256')
        .update(JSON.stringify([n.applicationId, n.eventType, n.provisioningState, n.eventTime]))
        .digest('hex');
      const subscriptionId = (n.applicationId as string).split('/')[2] ?? null;
      const firstDelivery = await recordNotification(db, { notificationId, kind: 'managedApplication', subscriptionId, body: n });
      return { firstDelivery };
    },
  };
}

export type NotificationHandlers = ReturnType<typeof notificationHandlers>;
