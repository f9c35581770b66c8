// Cluster peering through the control plane: a token made on the accepting cluster (its result
// sealed for the API, read once), a peering established on the dialing cluster with a token the
// API sealed for the worker, and every peering removed before a cluster is deleted. Tokens are
// secrets: they travel only sealed through the store, never through workflow history.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { workerFailure } from '../contract/errors.js';
import { peeringTokenInputName, peeringTokenResultName, sealContext } from '../contract/secret-names.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { SqlExecutor } from '../store/database.js';
import { getSecret, putSecret, takeSecret } from '../store/secrets.js';
import { consulAccess, type ConsulAccessDeps } from './consul-access.js';
import { PeeringRefused, type ConsulPeering } from './consul-peering.js';
import { endPeerings, PEERING_END_TIMES, type PeeringEndTimes } from './peering-end.js';

export type PeeringDeps = ConsulAccessDeps<ConsulPeering> & {
  db: SqlExecutor;
  sealer: { seal(plaintext: string, context: string): string; open(sealed: string, context: string): string };
  /** Default PEERING_END_TIMES (tests shorten them). */
  peeringEndTimes?: PeeringEndTimes;
};

export function createPeeringActivities(deps: PeeringDeps) {
  const consul = consulAccess(deps);
  const times = deps.peeringEndTimes ?? PEERING_END_TIMES;
  const warn = (m: string, attrs: Record<string, unknown>): void => {
    Context.current().log.warn(m, attrs);
  };

  /**
   * A server that answers with a leader, asked again for `reachWaitMs` while none does: a server
   * that is busy or electing for a moment still has peers to tell. Undefined for a cluster with
   * nobody to tell: no credentials (a create that failed early), or no leader all that time (a
   * create that failed before one was elected).
   */
  async function reachForPeerings(a: { plan: ClusterPlan; servers: ServerInfo[] }) {
    for (const end = Date.now() + times.reachWaitMs; ; await sleep(times.pollMs)) {
      try {
        return await consul.admin(a.plan.resourceKey, a.servers);
      } catch (e) {
        if (!(e instanceof ApplicationFailure) || (e.type !== 'ClusterNotHealthy' && e.type !== 'SecretMissing')) throw e;
        if (e.type === 'SecretMissing') return undefined;
        if (Date.now() >= end) {
          warn('no server answered with a leader: the cluster goes without telling any peer', { waitedMs: times.reachWaitMs });
          return undefined;
        }
      }
    }
  }

  return {
    /** generatePeeringToken: a token for `peerName`, sealed as the operation's result. */
    async generatePeeringToken(a: { plan: ClusterPlan; servers: ServerInfo[]; operationId: string; peerName: string }): Promise<void> {
      const key = a.plan.resourceKey;
      const { admin, token } = await consul.admin(key, a.servers);
      const peeringToken = await admin.generateToken(token, a.peerName);
      const name = peeringTokenResultName(a.operationId);
      await putSecret(deps.db, key, name, deps.sealer.seal(JSON.stringify({ peerName: a.peerName, peeringToken }), sealContext(key, name)));
    },

    /**
     * establishPeering: dials the other cluster with the token the API sealed. Idempotent: a
     * peering of that name that is already active or being established is this one's earlier
     * attempt; the token is deleted once the peering exists.
     */
    async establishPeering(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      operationId: string;
      peerName: string;
    }): Promise<{ state: string }> {
      const key = a.plan.resourceKey;
      const inputName = peeringTokenInputName(a.operationId);
      const { admin, token } = await consul.admin(key, a.servers);
      const existing = await admin.get(token, a.peerName);
      if (existing && ['ACTIVE', 'ESTABLISHING', 'PENDING'].includes(existing.State)) {
        await takeSecret(deps.db, key, inputName);
        return { state: existing.State };
      }
      const sealed = await getSecret(deps.db, key, inputName);
      if (sealed === undefined)
        throw workerFailure('InvalidOperationInput', `the peering token of operation ${a.operationId} is not in the store`);
      const { peeringToken } = JSON.parse(deps.sealer.open(sealed, sealContext(key, inputName))) as { peeringToken: string };
      try {
        await admin.establish(token, a.peerName, peeringToken);
      } catch (e) {
        // 4xx: Consul judged the token; 5xx and network errors are retried.
        if (e instanceof PeeringRefused && e.status >= 400 && e.status < 500) {
          await takeSecret(deps.db, key, inputName);
          throw workerFailure('PeeringRefused', e.message);
        }
        throw e;
      }
      await takeSecret(deps.db, key, inputName);
      return { state: (await admin.get(token, a.peerName))?.State ?? 'ESTABLISHING' };
    },

    /**
     * Before a delete: every peering of the cluster is deleted, so its peers see it end rather
     * than fail. A cluster with no leader (a failed create) has none to tell: nothing to do.
     */
    async removePeerings(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ removed: string[] }> {
      if (a.servers.length === 0) return { removed: [] };
      const reached = await reachForPeerings(a);
      if (!reached) return { removed: [] };
      return endPeerings(reached.admin, reached.token, warn, times);
    },
  };
}

export type PeeringActivities = ReturnType<typeof createPeeringActivities>;
