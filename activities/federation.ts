// WAN federation of a secondary with its primary: the secondary's tokens made in the primary
// before its servers start, the federation gate (primary datacenter reachable, ACL replication
// running) and leaving the federation when the secondary is deleted.
import { workerFailure } from '../contract/errors.js';
import { SECRET } from '../contract/secret-names.js';
import { SECONDARY_TOKENS } from '../domain/acl-policies.js';
import type { ClusterPlan, FederationJoin, ServerInfo } from '../domain/cluster-plan.js';
import { ensureTokens, TOKEN_SECRET, type AclConsul, type StoredToken } from './acls.js';
import { consulAccess, type ConsulAccessDeps } from './consul-access.js';
import { federationJoin, type FederationPrimaries } from './federation-primary.js';
import { pollUntil, whileHeartbeating, type GateTiming } from './polling.js';
import type { SecretReader } from './secrets.js';

/** What federation steps ask a Consul server (of the secondary, or of its primary). */
export interface FederationConsul extends Pick<AclConsul, 'leaderAddress' | 'ensureToken' | 'deleteToken'> {
  datacenters(token: string): Promise<string[]>;
  aclReplication(token: string): Promise<{ enabled: boolean; running: boolean; sourceDatacenter: string; replicatedIndex: number }>;
  wanMembers(token: string): Promise<Array<{ name: string; datacenter: string; address: string; status: number }>>;
  forceLeaveWan(token: string, name: string): Promise<void>;
}

export type FederationDeps = ConsulAccessDeps<FederationConsul> &
  GateTiming & {
    secrets: SecretReader;
    primaries: FederationPrimaries;
  };

export function createFederationActivities(deps: FederationDeps) {
  const { secrets, primaries } = deps;
  const consul = consulAccess(deps);
  return {
    /**
     * A secondary, before its servers start: its agent, snapshot and replication tokens are made
     * in the primary (so they work the moment the servers join), and the primary's servers are
     * where the secondary's servers join the WAN pool.
     */
    async joinFederation(a: { plan: ClusterPlan }): Promise<FederationJoin> {
      const primary = await primaries.joinablePrimary(a.plan);
      const { admin, token } = await consul.admin(primary.resourceKey, primary.servers);
      await ensureTokens(secrets, admin, token, a.plan.resourceKey, SECONDARY_TOKENS);
      return federationJoin(a.plan, primary);
    },

    /** A secondary's federation gate: the primary's datacenter is reachable and ACL replication runs. */
    async waitForFederation(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ datacenters: string[]; replicatedIndex: number }> {
      const primaryDc = a.plan.federation!.primaryDatacenter;
      return pollUntil<{ datacenters: string[]; replicatedIndex: number }>(
        deps,
        (problem) => workerFailure('FederationNotJoined', `not federated yet: ${problem}`),
        async () => {
          try {
            const { admin, token } = await consul.admin(a.plan.resourceKey, a.servers);
            const datacenters = await admin.datacenters(token);
            const replication = await admin.aclReplication(token);
            if (!datacenters.includes(primaryDc))
              return { problem: `the primary datacenter ${primaryDc} is not in the WAN pool (${datacenters.join(', ')})` };
            if (!replication.enabled || !replication.running) return { problem: 'ACL replication from the primary is not running' };
            if (replication.replicatedIndex === 0) return { problem: 'ACL replication has not copied any token yet' };
            return { done: { datacenters, replicatedIndex: replication.replicatedIndex } };
          } catch (err) {
            return { problem: err instanceof Error ? err.message : String(err) };
          }
        },
      );
    },

    /**
     * A deleted secondary leaves the federation: its servers are removed from the primary's WAN
     * pool and its tokens (which live in the primary) are deleted. Nothing to do when the
     * primary is gone too.
     */
    async leaveFederation(a: { plan: ClusterPlan }): Promise<{ removedMembers: string[]; deletedTokens: number }> {
      return whileHeartbeating(() => leave(a));
    },
  };

  async function leave(a: { plan: ClusterPlan }): Promise<{ removedMembers: string[]; deletedTokens: number }> {
    const primary = await primaries.primaryOf(a.plan);
    // A primary that is gone or going (a Deleted subscription deletes everything) has nothing to leave.
    if (!primary || primary.deleting || primary.servers.length === 0) return { removedMembers: [], deletedTokens: 0 };
    const { admin, token } = await consul.admin(primary.resourceKey, primary.servers);
    let deletedTokens = 0;
    for (const name of [...SECONDARY_TOKENS.map((t) => TOKEN_SECRET[t.secret]), SECRET.rootToken]) {
      const stored = await secrets.textIfStored(a.plan.resourceKey, name);
      if (stored === undefined) continue;
      await admin.deleteToken(token, (JSON.parse(stored) as Pick<StoredToken, 'accessorId'>).accessorId);
      deletedTokens++;
    }
    // The servers are gone; the primary notices within seconds (alive -> failed), and a
    // failed member can be pruned. An alive one cannot be removed, so wait for that.
    const removedMembers: string[] = [];
    await pollUntil(
      deps,
      (problem) => workerFailure('ClusterNotHealthy', `servers of ${a.plan.datacenter} still in the primary's WAN pool: ${problem}`),
      async () => {
        const members = (await admin.wanMembers(token)).filter((m) => m.datacenter === a.plan.datacenter);
        if (members.length === 0) return { done: true };
        for (const m of members.filter((x) => x.status !== 1)) {
          await admin.forceLeaveWan(token, m.name);
          removedMembers.push(m.name);
        }
        return { problem: members.map((m) => m.name).join(', ') };
      },
    );
    return { removedMembers, deletedTokens };
  }
}
