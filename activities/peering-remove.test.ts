// removePeerings against a scripted stand-in for the servers: a cluster whose only server does not
// answer with a leader for a moment (busy, electing) still has its peers told, and only a cluster
// that never answers, or never got its credentials, goes without. The real boundary is
// test/lifecycle/peering.test.ts. (Its rare failure: B never told, A's delete having gone on
// after one unanswered leader check.)
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { SqlExecutor } from '../store/database.js';
import type { ConsulPeering, Peering } from './consul-peering.js';
import { createPeeringActivities } from './peering.js';

const times = { reachWaitMs: 400, connectWaitMs: 300, forgetWaitMs: 300, terminationWaitMs: 50, pollMs: 20 };
const plan = { resourceKey: '/subscriptions/s/resourcegroups/rg/providers/hcs.consul/clusters/a' } as ClusterPlan;
const servers = [{ address: '127.0.0.2' }] as ServerInfo[];

/** A server that names no leader for its first `silentChecks` checks, then holds one ACTIVE peering. */
function scriptedServer(silentChecks: number) {
  const state = { checks: 0, deleted: [] as string[] };
  const peerings = (): Peering[] => (state.deleted.includes('peer-b') ? [] : [{ Name: 'peer-b', State: 'ACTIVE' }]);
  const server = {
    async leaderAddress() {
      state.checks++;
      if (state.checks <= silentChecks) throw new Error('leader unavailable (500)');
      return '127.0.0.2';
    },
    list: async () => peerings(),
    async delete(_token: string, name: string) {
      state.deleted.push(name);
    },
  };
  return { state, server: server as unknown as ConsulPeering };
}

function activities(server: ConsulPeering, tokenSecretId: () => Promise<string> = async () => 'management') {
  return createPeeringActivities({
    consulAdmin: () => server,
    pki: { clusterCaBundle: async () => 'ca' },
    secrets: { tokenSecretId },
    db: {} as SqlExecutor,
    sealer: { seal: (s) => s, open: (s) => s },
    peeringEndTimes: times,
  });
}

const removeWith = (server: ConsulPeering, tokenSecretId?: () => Promise<string>) => (a: { plan: ClusterPlan; servers: ServerInfo[] }) =>
  activities(server, tokenSecretId).removePeerings(a);

describe('removePeerings', () => {
  it('asks again when the server names no leader for a moment, and then tells the peer', async () => {
    const { state, server } = scriptedServer(3);
    const result = await new MockActivityEnvironment().run(removeWith(server), { plan, servers });
    expect(result).toEqual({ removed: ['peer-b'] });
    expect(state.deleted).toEqual(['peer-b']);
    expect(state.checks).toBe(4);
  });

  it('goes on without telling anyone, with a warning, when no leader answers for the whole wait', async () => {
    const { state, server } = scriptedServer(Number.MAX_SAFE_INTEGER);
    const warnings: string[] = [];
    const logger = new DefaultLogger('WARN', (entry) => void warnings.push(entry.message));
    const started = Date.now();
    const result = await new MockActivityEnvironment(undefined, { logger }).run(removeWith(server), { plan, servers });
    expect(result).toEqual({ removed: [] });
    expect(state.deleted).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(times.reachWaitMs);
    expect(warnings).toEqual(['no server answered with a leader: the cluster goes without telling any peer']);
  });

  it('has nobody to tell when the cluster never got its credentials (a create that failed early), at once', async () => {
    const { state, server } = scriptedServer(0);
    const missing = async (): Promise<string> => {
      throw workerFailure('SecretMissing', 'the cluster has no management token; it was never generated');
    };
    const started = Date.now();
    const result = await new MockActivityEnvironment().run(removeWith(server, missing), { plan, servers });
    expect(result).toEqual({ removed: [] });
    expect(state.checks).toBe(0);
    expect(Date.now() - started).toBeLessThan(times.reachWaitMs);
  });
});
