// Raft membership and leadership of a cluster's servers: finding and moving the leader (rolling
// upgrades), servers leaving gracefully before a scale-down and pruning peers that are gone.
import { Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { RaftServer } from './consul-admin.js';
import { consulAccess, type ConsulAccessDeps, type LeaderProbe } from './consul-access.js';
import { whileHeartbeating } from './polling.js';

/** What leadership and membership steps ask a Consul server. */
export interface LeadershipConsul extends LeaderProbe {
  transferLeader(token: string, to?: string): Promise<void>;
  leave(managementToken: string): Promise<'left' | 'unreachable'>;
  raftServers(token: string): Promise<RaftServer[]>;
  removeRaftPeer(token: string, id: string): Promise<void>;
  removePeersNotIn(managementToken: string, keep: string[]): Promise<string[]>;
}

/** How long a left server may stay in raft before it is removed, and how long in all until the step fails. */
export interface RetireTiming {
  graceMs: number;
  limitMs: number;
  pollMs: number;
}

export const RETIRE_TIMING: RetireTiming = { graceMs: 10_000, limitMs: 60_000, pollMs: 500 };

export type ConsulLeadershipDeps = ConsulAccessDeps<LeadershipConsul> & { retireTiming?: RetireTiming };

export function createConsulLeadershipActivities(deps: ConsulLeadershipDeps) {
  const consul = consulAccess(deps);
  const timing = deps.retireTiming ?? RETIRE_TIMING;

  /**
   * Waits until `leaving` is out of the raft configuration, as any kept server reports it (the
   * request goes to the leader); after `graceMs` it removes the peer itself. True if it did.
   */
  async function outOfRaft(kept: LeadershipConsul[], token: string, leaving: ServerInfo, graceMs: number): Promise<boolean> {
    const started = Date.now();
    let removedIt = false;
    let last = '';
    for (;;) {
      for (const server of kept) {
        const peers = await server.raftServers(token).catch((err: Error) => void (last = err.message));
        if (!peers) continue;
        const peer = peers.find((p) => p.address === leaving.address);
        if (!peer) return removedIt;
        if (Date.now() - started >= graceMs)
          await server.removeRaftPeer(token, peer.id).then(
            () => void (removedIt = true),
            (err: Error) => void (last = err.message),
          );
        break;
      }
      if (Date.now() - started > timing.limitMs)
        throw workerFailure(
          'ClusterNotHealthy',
          `server ${leaving.name} (${leaving.address}) is still in raft ${Math.round(timing.limitMs / 1000)} s after its leave${last ? `: ${last}` : ''}`,
        );
      await Context.current().sleep(timing.pollMs);
    }
  }
  return {
    /**
     * Scale-down, before the instances go: the retiring servers leave raft one at a time, and the
     * next leaves only once the last is out of the raft configuration. Two servers out at once
     * - one still leaving, or one that crashed and never left - could take quorum with them, and
     * then no server leads. A server that does not answer, or is still listed RETIRE_TIMING.graceMs
     * after its leave, is removed through the leader while the others still make a quorum.
     */
    async retireServers(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      retiring: ServerInfo[];
    }): Promise<{ left: string[]; removed: string[] }> {
      return whileHeartbeating(async () => {
        const { ca, token } = await consul.credentials(a.plan.resourceKey);
        const kept = a.servers.map((s) => consul.at(s.address, ca));
        const left: string[] = [];
        const removed: string[] = [];
        for (const s of a.retiring) {
          const outcome = await consul.at(s.address, ca).leave(token);
          if (outcome === 'left') left.push(s.name);
          if (await outOfRaft(kept, token, s, outcome === 'left' ? timing.graceMs : 0)) removed.push(s.name);
        }
        return { left, removed };
      });
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
