// The control plane's own schedule for automatic patch upgrades (see activities/fleet.ts).
import { log, proxyActivities } from '@temporalio/workflow';
import type { FleetActivities, FleetUpgrade } from '../activities/fleet.js';
import { retry } from './lifecycle.js';

const fleet = proxyActivities<FleetActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { ...retry, maximumAttempts: 5 },
});

export async function fleetAutomaticUpgrades(a: { subscriptionId?: string } = {}): Promise<FleetUpgrade[]> {
  const started = await fleet.startAutomaticUpgrades(a);
  log.info('automatic patch upgrades', {
    started: started.filter((u) => u.outcome === 'started').length,
    busy: started.filter((u) => u.outcome === 'busy').length,
  });
  return started;
}
