// The per-cluster server health check (issue 17 item 2): for every cluster with servers, which
// servers are alive gossip members (as the first server that answers sees them); a server down
// longer than the setting gets a repair operation (or, without a quorum, a restart) started
// without a human (domain/server-repair.ts decides). The one-operation rule keeps it to one at a
// time per cluster: while any operation is pending nothing is started, and the next check looks
// again. What it remembers between checks (since when each server is down) is handed back to the
// workflow that runs it (workflows/server-health.ts), never stored.
import { Context } from '@temporalio/activity';
import { decideRepair, type ServerSighting } from '../domain/server-repair.js';
import { operationTarget, startOperation, type WorkflowStarter } from '../lib/operation-starter.js';
import { getCluster, getClusterServers } from '../store/clusters.js';
import type { SqlDatabase } from '../store/database.js';
import { OperationInProgressError, pendingOperation } from '../store/operations.js';
import { serverHealthCandidates } from '../store/server-health.js';
import { consulAccess, type ConsulAccessDeps, type LeaderProbe } from './consul-access.js';

/** What the check asks a Consul server. */
export interface MembershipConsul extends LeaderProbe {
  member(token: string, address: string): Promise<{ name: string; version: string } | undefined>;
}

export type ServerHealthDeps = ConsulAccessDeps<MembershipConsul> & {
  db: SqlDatabase;
  /** Starts the repairs' workflows (lib/operation-starter.ts). */
  starter: WorkflowStarter;
};

/** Since when each down server has been down (ISO), by cluster key and server index. */
export type DownSince = Record<string, Record<string, string>>;

export interface HealthCheckOutcome {
  downSince: DownSince;
  /** The operations started by this check. */
  started: Array<{ resourceKey: string; kind: 'repair' | 'restart'; serverIndex: number; operationId: string }>;
}

export function createServerHealthActivities(deps: ServerHealthDeps) {
  const { db } = deps;
  const consul = consulAccess(deps);

  /**
   * Each server of the cluster alive or not: as the first server with a raft leader sees it; when
   * no server has a leader (a quorum lost), as the first server that answers sees it (its gossip
   * view), so a server that is up is never counted down for the cluster's lack of a leader.
   */
  async function sightings(
    resourceKey: string,
    servers: Array<{ index: number; name: string; address: string }>,
  ): Promise<ServerSighting[]> {
    const { ca, token } = await consul.credentials(resourceKey);
    let leaderless: ServerSighting[] | undefined;
    for (const asked of servers) {
      const c = consul.at(asked.address, ca);
      const leader = await c.leaderAddress(token).catch(() => undefined);
      if (leader === undefined) continue; // it does not answer
      const view: ServerSighting[] = [];
      try {
        for (const s of servers) {
          const alive = (await c.member(token, s.address)) !== undefined;
          view.push({ index: s.index, name: s.name, alive, ...(alive ? {} : { problem: 'not an alive member' }) });
        }
      } catch {
        continue; // its member list is not available: ask the next server
      }
      if (leader) return view;
      leaderless ??= view.map((v) => (v.alive ? v : { ...v, problem: 'not an alive member (no raft leader)' }));
    }
    // No server answers: every server counts as down.
    return leaderless ?? servers.map((s) => ({ index: s.index, name: s.name, alive: false, problem: 'no server answers' }));
  }

  return {
    /**
     * One round of the check over every cluster with servers (optionally one subscription's).
     * Safe to run again: a repair already pending for a cluster makes it start nothing.
     */
    async checkServers(a: { downSince: DownSince; repairAfterSeconds: number; subscriptionId?: string }): Promise<HealthCheckOutcome> {
      const now = new Date();
      const downSince: DownSince = {};
      const started: HealthCheckOutcome['started'] = [];
      const correlationId = Context.current().info.workflowExecution?.workflowId ?? 'server-health';
      for (const key of await serverHealthCandidates(db, a.subscriptionId)) {
        Context.current().heartbeat({ resourceKey: key });
        const servers = await getClusterServers(db, key);
        const seen = await sightings(key, servers).catch(() => undefined);
        if (!seen) continue; // its secrets or CA unavailable: the next round looks again
        const decision = decideRepair(seen, a.downSince[key] ?? {}, now, a.repairAfterSeconds * 1000);
        if (Object.keys(decision.downSince).length) downSince[key] = decision.downSince;
        if (!decision.act || (await pendingOperation(db, key))) continue;
        const c = await getCluster(db, key);
        if (!c) continue;
        const { kind, serverIndex, problem } = decision.act;
        try {
          const op = await startOperation(
            { db, starter: deps.starter },
            {
              target: operationTarget(c),
              kind,
              correlationId,
              params: { serverIndex, force: true, detectedProblem: problem },
              notStarted: 'The automatic repair could not be started; the health check tries again.',
            },
          );
          started.push({ resourceKey: key, kind, serverIndex, operationId: op.operationId });
          // The next action on this server comes no sooner than the setting from now.
          downSince[key] = { ...decision.downSince, [String(serverIndex)]: now.toISOString() };
        } catch (err) {
          if (err instanceof OperationInProgressError) continue;
          throw err;
        }
      }
      return { downSince, started };
    },
  };
}

export type ServerHealthActivities = ReturnType<typeof createServerHealthActivities>;
