// The fleet's automatic patch upgrades: a control-plane schedule runs this regularly. Every
// provisioned cluster whose upgrade policy asks for automatic patch upgrades and for which the
// catalogue offers a newer patch of its minor version (never a minor or major one, never a
// PREVIEW) gets an upgrade operation - unless another operation is running, then it is picked
// up next time. The upgrade itself waits for the cluster's maintenance window.
import { Context } from '@temporalio/activity';
import { randomUUID } from 'node:crypto';
import { runningConsulVersion, automaticUpgradeTarget, type CatalogueEntry } from '../domain/versions.js';
import { automaticUpgradeCandidates, setSpecConsulVersion } from '../store/clusters.js';
import type { SqlDatabase } from '../store/database.js';
import { OperationInProgressError } from '../store/operations.js';
import { operationTarget, startOperation, type WorkflowStarter } from '../lib/operation-starter.js';

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
      const candidates = await automaticUpgradeCandidates(db, a.subscriptionId);
      const out: FleetUpgrade[] = [];
      for (const c of candidates) {
        Context.current().heartbeat({ resourceKey: c.resourceKey });
        const from = runningConsulVersion(c);
        const to = automaticUpgradeTarget(from, deps.catalogue, c.spec.properties.upgradePolicy);
        if (!to) continue;
        try {
          await startOperation(
            { db, starter: deps.starter },
            {
              target: operationTarget(c),
              kind: 'upgrade',
              // The firing's own workflow id: one id per run finds the run and every upgrade it began.
              correlationId: Context.current().info.workflowExecution?.workflowId ?? `fleet-upgrade-${randomUUID()}`,
              params: { targetVersion: to, force: false },
              write: (tx) => setSpecConsulVersion(tx, c.resourceKey, to, `"${randomUUID()}"`),
              // Nothing runs for the record, which is closed so the cluster is not blocked; the next run retries.
              notStarted: 'The automatic upgrade could not be started; it will be tried again.',
            },
          );
        } catch (err) {
          if (err instanceof OperationInProgressError) {
            out.push({ resourceKey: c.resourceKey, from, to, outcome: 'busy' });
            continue;
          }
          throw err;
        }
        out.push({ resourceKey: c.resourceKey, from, to, outcome: 'started' });
      }
      return out;
    },
  };
}

export type FleetActivities = ReturnType<typeof createFleetActivities>;
