// The cluster's health as Consul reports it: the health gate (a leader, exactly the expected
// voters, autopilot healthy; plain HTTP closed on every server) and the per-server gates of a
// rolling upgrade (the server runs the new version and the cluster is healthy again) and of a
// server restart or repair (the server is a member again and the cluster is healthy).
import { workerFailure } from '../contract/errors.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { CONSUL_PLAIN_HTTP_PORT } from '../domain/consul-config.js';
import type { HealthReport } from './consul-admin.js';
import { consulAccess, type ConsulAccessDeps, type LeaderProbe } from './consul-access.js';
import { pollUntil, type GateTiming } from './polling.js';

/** What the health gates ask a Consul server. */
export interface HealthConsul extends LeaderProbe {
  health(managementToken: string, expectedServers: number): Promise<HealthReport>;
  member(token: string, address: string): Promise<{ name: string; version: string } | undefined>;
}

export type ConsulHealthDeps = ConsulAccessDeps<HealthConsul> &
  GateTiming & {
    /** Whether `url` answers at all (plain HTTP must not); the real fetch unless given. */
    plainHttpAnswers?: (url: string) => Promise<boolean>;
  };

/**
 * How often the health gates ask (unless the deps say): a cluster usually turns healthy within
 * seconds, and every second of polling lag is a second on the create. Four small HTTPS calls to
 * one server per poll.
 */
export const HEALTH_POLL_MS = 250;

const fetchAnswers = (url: string) =>
  fetch(url).then(
    () => true,
    () => false,
  );

export function createConsulHealthActivities(deps: ConsulHealthDeps) {
  const consul = consulAccess(deps);
  const plainHttpAnswers = deps.plainHttpAnswers ?? fetchAnswers;
  const timing: GateTiming = { healthTimeoutMs: deps.healthTimeoutMs, healthPollMs: deps.healthPollMs ?? HEALTH_POLL_MS };
  async function waitForServer(
    a: { plan: ClusterPlan; servers: ServerInfo[]; server: ServerInfo; version?: string },
    what: string,
    /** Only the server itself may say it is back (after a restart the others may not have noticed it left). */
    itselfOnly = false,
  ): Promise<{ seconds: number }> {
    const { ca, token } = await consul.credentials(a.plan.resourceKey);
    const started = Date.now();
    // Ask the server itself first, then the others (it may not be a member again yet).
    const askOrder = itselfOnly ? [a.server] : [a.server, ...a.servers.filter((s) => s.address !== a.server.address)];
    return pollUntil<{ seconds: number }>(
      timing,
      (problem) => workerFailure('ClusterNotHealthy', `${a.server.name} ${what}: ${problem}`),
      async () => {
        let problem = `${a.server.name} is not a member yet`;
        for (const s of askOrder) {
          const server = consul.at(s.address, ca);
          const member = await server.member(token, a.server.address).catch(() => undefined);
          if (!member) continue;
          if (a.version !== undefined && !member.version.startsWith(a.version))
            return { problem: `${a.server.name} still runs ${member.version}` };
          const report = await server.health(token, a.servers.length).catch((err: unknown) => ({
            healthy: false,
            problems: [String(err)],
          }));
          if (report.healthy) return { done: { seconds: Math.round((Date.now() - started) / 1000) } };
          problem = report.problems.join('; ');
          break;
        }
        return { problem };
      },
    );
  }

  return {
    /**
     * The health gate: a leader, exactly the expected voters, autopilot healthy, TLS and ACLs
     * enforced. Polls (heartbeating) until healthy or the gate's time is up.
     */
    async waitForHealthyCluster(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ leader: string; voters: number }> {
      const { ca, token } = await consul.credentials(a.plan.resourceKey);
      const last = await pollUntil<HealthReport>(
        timing,
        (problem) => workerFailure('ClusterNotHealthy', `the cluster is not healthy: ${problem}`),
        async () => {
          let report: HealthReport | undefined;
          for (const s of a.servers) {
            report = await consul
              .at(s.address, ca)
              .health(token, a.servers.length)
              .catch((err: unknown) => ({
                healthy: false,
                leader: undefined,
                voters: 0,
                problems: [`${s.name} unreachable: ${err instanceof Error ? err.message : String(err)}`],
              }));
            if (report.healthy) return { done: report };
          }
          return { problem: report?.problems.join('; ') ?? 'no servers' };
        },
      );
      // Plain HTTP must be closed on every server.
      for (const s of a.servers) {
        if (await plainHttpAnswers(`http://${s.address}:${CONSUL_PLAIN_HTTP_PORT}/v1/status/leader`))
          throw workerFailure('PlainHttpOpen', `${s.name} answers plain HTTP on port ${CONSUL_PLAIN_HTTP_PORT}`);
      }
      return { leader: last.leader!, voters: last.voters };
    },

    /**
     * Waits until the server runs `version`, is an alive member again, and the whole cluster
     * passes the health gate (autopilot healthy and stable, every server a voter).
     */
    async waitForServerVersion(a: {
      plan: ClusterPlan;
      servers: ServerInfo[];
      server: ServerInfo;
      version: string;
    }): Promise<{ seconds: number }> {
      return waitForServer(a, `did not come back healthy on ${a.version}`);
    },

    /**
     * Before a repair wipes a server: the other servers must hold a quorum of the cluster (a
     * majority of all servers, alive members) with a leader, so the cluster's data survives
     * without this server. A cluster of one server never passes (its data is on that server).
     */
    async checkQuorumWithout(a: { plan: ClusterPlan; servers: ServerInfo[]; server: ServerInfo }): Promise<{ alive: number }> {
      const { ca, token } = await consul.credentials(a.plan.resourceKey);
      const others = a.servers.filter((s) => s.address !== a.server.address);
      const quorum = Math.floor(a.servers.length / 2) + 1;
      let seen = 0;
      for (const s of others) {
        const c = consul.at(s.address, ca);
        if (!(await c.leaderAddress(token).catch(() => ''))) continue;
        let alive = 0;
        for (const o of others) if (await c.member(token, o.address).catch(() => undefined)) alive++;
        if (alive >= quorum) return { alive };
        seen = Math.max(seen, alive);
      }
      throw workerFailure(
        'RepairWouldLoseQuorum',
        `without ${a.server.name} the cluster has ${seen} live server(s) with a leader; a quorum is ${quorum} of ${a.servers.length}`,
      );
    },

    /**
     * After a restart or repair of one server: waits until the server itself answers again, sees
     * itself as an alive member and reports the whole cluster healthy (the others' gossip may
     * still show it alive from before the restart, so only its own answer counts).
     */
    async waitForServerBack(a: { plan: ClusterPlan; servers: ServerInfo[]; server: ServerInfo }): Promise<{ seconds: number }> {
      return waitForServer(a, 'did not rejoin the cluster healthy', true);
    },
  };
}
