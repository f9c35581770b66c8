// Raft membership and leadership of a cluster's servers: finding and moving the leader (rolling
// upgrades), servers leaving gracefully before a scale-down and pruning peers that are gone.
import { Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { consulAccess, type ConsulAccessDeps, type LeaderProbe } from './consul-access.js';
import { whileHeartbeating } from './polling.js';

/** What leadership and membership steps ask a Consul server. */
export interface LeadershipConsul extends LeaderProbe {
  transferLeader(token: string, to?: string): Promise<void>;
  leave(managementToken: string): Promise<'left' | 'unreachable'>;
  removePeersNotIn(managementToken: string, keep: string[]): Promise<string[]>;
}

export type ConsulLeadershipDeps = ConsulAccessDeps<LeadershipConsul>;

export function createConsulLeadershipActivities(deps: ConsulLeadershipDeps) {
  const consul = consulAccess(deps);
  return {
    /** Scale-down, before the instances go: each retiring server leaves raft gracefully. */
    async retireServers(a: { plan: ClusterPlan; servers: ServerInfo[]; retiring: ServerInfo[] }): Promise<{ left: string[] }> {
      const { ca, token } = await consul.credentials(a.plan.resourceKey);
      const left: string[] = [];
      for (const s of a.retiring) {
        const outcome = await consul.at(s.address, ca).leave(token);
        if (outcome === 'left') left.push(s.name);
      }
      return { left };
    },

    /** After a scale-down: raft peers that are not among the servers are removed. */
    async pruneRaftPeers(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ removed: string[] }> {
      return whileHeartbeating(async () => {
        const { admin, token } = await consul.admin(a.plan.resourceKey, a.servers);
        return {
          removed: await admin.removePeersNotIn(
            token,
            a.servers.map((s) => s.address),
          ),
        };
      });
    },

    /** The raft leader's address (host only). */
    async findLeader(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ address: string }> {
      const { admin, token } = await consul.admin(a.plan.resourceKey, a.servers);
      return { address: await admin.leaderAddress(token) };
    },

    /**
     * Moves raft leadership away from `from` to an (already upgraded) server, and waits until
     * another server leads. Nothing to do when `from` is not the leader (a retry after success).
     */
    async transferLeadership(a: { plan: ClusterPlan; servers: ServerInfo[]; from: string; to?: string }): Promise<{ leader: string }> {
      let leader = '';
      return whileHeartbeating(
        async () => {
          const { admin, token } = await consul.admin(a.plan.resourceKey, a.servers);
          for (let i = 0; ; i++) {
            leader = await admin.leaderAddress(token).catch(() => '');
            if (leader && leader !== a.from) return { leader };
            if (leader === a.from && i % 10 === 0) await admin.transferLeader(token, a.to);
            Context.current().heartbeat({ leader });
            if (i > 120) throw workerFailure('ClusterNotHealthy', `leadership did not move away from ${a.from}`);
            await Context.current().sleep(500);
          }
        },
        () => ({ leader }),
      );
    },
  };
}
