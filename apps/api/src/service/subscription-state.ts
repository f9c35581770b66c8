// Whether a subscription accepts changes: ARM must have registered it, and a Warned or Suspended
// subscription allows only deletes (ARM's subscription lifecycle contract).
import type { SqlExecutor } from '../../../../store/database.js';
import { getSubscription } from '../../../../store/subscriptions.js';
import { conflict } from '../errors.js';

export async function requireWritableSubscription(db: SqlExecutor, subscriptionId: string, allowDelete: boolean): Promise<void> {
  const sub = await getSubscription(db, subscriptionId);
  if (!sub)
    throw conflict(
      'SubscriptionNotRegistered',
      `Subscription ${subscriptionId} is not registered with the HCS.Consul resource provider; register the provider for it (Azure Resource Manager then sends its Registered state) and retry.`,
    );
  const state = sub.state;
  if (state === 'Registered' || (allowDelete && (state === 'Warned' || state === 'Suspended'))) return;
  throw conflict(
    'InvalidSubscriptionState',
    `Subscription ${subscriptionId} is ${state}; ${state === 'Warned' || state === 'Suspended' ? 'only GET and DELETE are allowed' : 'no changes are allowed'}.`,
  );
}
