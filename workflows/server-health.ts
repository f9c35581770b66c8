// The control plane's server health check (activities/server-health.ts): one long-lived workflow
// per task queue checks every cluster's servers every `everySeconds` and starts a repair for a
// server down longer than `repairAfterSeconds`. What it remembers between rounds (since when each
// server is down) is its own state, carried into the next run when it continues as new.
import { proxyActivities, sleep } from '@temporalio/workflow';
import type { DownSince, ServerHealthActivities } from '../activities/server-health.js';
import { continueAsNewWhenLong } from './history-budget.js';
import { retry } from './lifecycle.js';

const health = proxyActivities<ServerHealthActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 5 },
});

export interface ServerHealthInput {
  everySeconds: number;
  repairAfterSeconds: number;
  /** Only this subscription's clusters (tests). */
  subscriptionId?: string;
  downSince?: DownSince;
}

export async function fleetServerHealth(a: ServerHealthInput): Promise<never> {
  let downSince = a.downSince ?? {};
  for (;;) {
    try {
      ({ downSince } = await health.checkServers({
        downSince,
        repairAfterSeconds: a.repairAfterSeconds,
        ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}),
      }));
    } catch {
      // A round that failed (the store or Temporal away for minutes): the next round tries again.
    }
    await sleep(a.everySeconds * 1000);
    await continueAsNewWhenLong<typeof fleetServerHealth>({ ...a, downSince });
  }
}
