// The fleet's gauges, read from the store on each scrape (store/fleet-stats.ts). The worker
// exports them, not the API: the API is scaled for request load and each of its replicas would
// repeat the same queries on every scrape, while the worker already owns the fleet's background
// work (schedules, automatic upgrades) and its replicas are few. Alerts take max/min across them.
// A registry of its own per ops server (each holds its database), served beside the process's
// registry (lib/metrics.ts); when the store cannot be read the gauges are left out of the scrape
// and hcs_fleet_stats_up says 0, so a store outage never reads as a healthy fleet.
import { Gauge, Registry } from 'prom-client';
import type { SqlExecutor } from '../../../store/database.js';
import { fleetStats } from '../../../store/fleet-stats.js';

export interface FleetMetrics {
  registry: Registry;
  metrics(): Promise<string>;
}

export function fleetMetrics(db: SqlExecutor, onError: (err: unknown) => void = () => undefined): FleetMetrics {
  const registry = new Registry();
  const registers = [registry];
  const byState = new Gauge({
    name: 'hcs_fleet_clusters',
    help: 'Clusters by provisioning state.',
    labelNames: ['state'] as const,
    registers,
  });
  const certificate = new Gauge({
    name: 'hcs_fleet_earliest_certificate_expiry_seconds',
    help: 'Seconds until the earliest server certificate of any cluster expires (negative once expired).',
    registers,
  });
  const snapshotAge = new Gauge({
    name: 'hcs_fleet_oldest_snapshot_age_seconds',
    help: "Age of the oldest among the clusters' last successful snapshots.",
    registers,
  });
  const snapshotIntervals = new Gauge({
    name: 'hcs_fleet_snapshot_age_intervals_max',
    help: "The largest age of a cluster's last successful snapshot in units of its own snapshot interval.",
    registers,
  });
  const scheduledUpgrades = new Gauge({
    name: 'hcs_fleet_scheduled_upgrades',
    help: 'Upgrades waiting for their maintenance window.',
    registers,
  });
  const up = new Gauge({
    name: 'hcs_fleet_stats_up',
    help: 'Whether the last scrape could read the fleet from the store (1) or not (0).',
    registers,
  });
  const gauges = [byState, certificate, snapshotAge, snapshotIntervals, scheduledUpgrades];
  return {
    registry,
    /** Reads the fleet from the store and answers the gauges in Prometheus' text format. */
    async metrics(): Promise<string> {
      for (const g of gauges) g.reset();
      try {
        const s = await fleetStats(db);
        for (const { state, count } of s.clustersByState) byState.set({ state }, count);
        if (s.earliestCertificateExpirySeconds !== null) certificate.set(s.earliestCertificateExpirySeconds);
        if (s.oldestSnapshotAgeSeconds !== null) snapshotAge.set(s.oldestSnapshotAgeSeconds);
        if (s.maxSnapshotAgeInIntervals !== null) snapshotIntervals.set(s.maxSnapshotAgeInIntervals);
        scheduledUpgrades.set(s.scheduledUpgrades);
        up.set(1);
      } catch (err) {
        up.set(0);
        onError(err);
      }
      return registry.metrics();
    },
  };
}
