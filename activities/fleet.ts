// The fleet's automatic patch upgrades: a control-plane schedule runs this regularly. Every
// provisioned cluster whose upgrade policy asks for automatic patch upgrades and for which the
// catalogue offers a newer patch of its minor version (never a minor or major one, never a
// PREVIEW) gets an upgrade operation - unless another operation is running, then it is picked
// up next time. The upgrade itself waits for the cluster's maintenance window.
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { automaticUpgradeTarget, type CatalogueEntry } from '../domain/versions.js';
import { setSpecConsulVersion, type ClusterRecord } from '../store/clusters.js';
import type { SqlDatabase } from '../store/database.js';
import { OperationInProgressError } from '../store/operations.js';
import { startOperation, type WorkflowStarter } from '../lib/operation-starter.js';

export interface FleetDeps {
  db: SqlDatabase;
  catalogue: CatalogueEntry[];
  /** Starts the upgrades' workflows (lib/operation-starter.ts). */
  starter: WorkflowStarter;
}

export interface FleetUpgrade {
  resourceKey: string;
  from: string;
  to: string;
  outcome: 'started' | 'busy';
}

export function createFleetActivities(deps: FleetDeps) {
  const { db } = deps;
  return {
    /** Starts the automatic patch upgrades that are due (optionally within one subscription). */
    async startAutomaticUpgrades(a: { subscriptionId?: string }): Promise<FleetUpgrade[]> {
      const params: unknown[] = [];
      let where = `provisioning_state = 'Succeeded' AND (spec->'properties'->'upgradePolicy'->>'automaticPatchUpgrades')::boolean`;
      if (a.subscriptionId) {
        params.push(a.subscriptionId.toLowerCase());
        where += ` AND lower(subscription_id) = $1`;
      }
      const { rows } = await db.query<{
        resource_id: string;
        display_id: string;
        subscription_id: string;
        resource_group: string;
        spec: ClusterRecord['spec'];
        status: ClusterRecord['status'];
      }>(
        `SELECT resource_id, display_id, subscription_id, resource_group, spec, status FROM clusters WHERE ${where} ORDER BY resource_id`,
        params,
      );
      const out: FleetUpgrade[] = [];
      for (const c of rows) {
        Context.current().heartbeat({ resourceKey: c.resource_id });
        const from = c.status.currentConsulVersion ?? c.spec.properties.consulVersion;
        const to = automaticUpgradeTarget(from, deps.catalogue, c.spec.properties.upgradePolicy);
        if (!to) continue;
        try {
          await startOperation(
            { db, starter: deps.starter },
            {
              target: {
                resourceKey: c.resource_id,
                id: c.display_id,
                subscriptionId: c.subscription_id,
                resourceGroup: c.resource_group,
                location: c.spec.location,
              },
              kind: 'upgrade',
              correlationId: 'fleet-automatic-upgrades',
              params: { targetVersion: to, force: false },
              write: (tx) => setSpecConsulVersion(tx, c.resource_id, to, `"${randomUUID()}"`),
              // Nothing runs for the record, which is closed so the cluster is not blocked; the next run retries.
              notStarted: 'The automatic upgrade could not be started; it will be tried again.',
            },
          );
        } catch (err) {
          if (err instanceof OperationInProgressError) {
            out.push({ resourceKey: c.resource_id, from, to, outcome: 'busy' });
            continue;
          }
          throw err;
        }
        out.push({ resourceKey: c.resource_id, from, to, outcome: 'started' });
      }
      return out;
    },
  };
}

export type FleetActivities = ReturnType<typeof createFleetActivities>;
