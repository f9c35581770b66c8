// Marketplace metering (activities/metering.ts): each firing of the control plane's metering
// schedule reports the finished hours not yet reported. `asOf` is the moment the firing reports
// up to: the firing's own start unless given (an operator's catch-up by hand, and tests);
// `subscriptionId` limits it to one subscription's clusters.
import { log, proxyActivities } from '@temporalio/workflow';
import type { MeteringActivities, MeteringSummary } from '../activities/metering.js';
import { retry } from './lifecycle.js';

const metering = proxyActivities<MeteringActivities>({
  startToCloseTimeout: '30 minutes',
  // A heartbeat before and after each batch; a batch call times out after 20 s.
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 5 },
});

export async function meteringFiring(a: { asOf?: string; subscriptionId?: string } = {}): Promise<MeteringSummary> {
  const summary = await metering.meterUsage({
    asOf: a.asOf ?? new Date(Date.now()).toISOString(),
    ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
  });
  if (summary.unavailable) log.warn('the metering API was unavailable; the next firing sends the rest', { ...summary });
  else log.info('usage metered', { ...summary });
  return summary;
}
