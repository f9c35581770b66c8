// Moving a snapshot between a cluster's Consul and its Blob container from inside an activity:
// which server to talk to (the first that serves it: every server forwards to the leader), which
// token (a fallback on a refusal), and heartbeats with the bytes moved while the stream runs.
// The streaming itself is activities/consul-snapshots.ts.
import { Context } from '@temporalio/activity';
import { workerFailure } from '../contract/errors.js';
import type { SqlExecutor } from '../store/database.js';
import { getClusterServers, type ClusterRecord, type ServerRecord } from '../store/clusters.js';
import { ConsulSnapshotError, type ConsulEndpoint } from './consul-admin.js';
import { serverTrust, type EndpointTrust } from './consul-access.js';
import { whileHeartbeating } from './polling.js';
import type { SnapshotEndpoint } from './consul-snapshots.js';
import { CONSUL_HTTPS_PORT } from '../domain/consul-config.js';

export interface SnapshotTransferDeps {
  db: SqlExecutor;
  /** The cluster's CA bundle, which its servers' certificates chain to. */
  pki: { clusterCaBundle(clusterKey: string): Promise<string> };
  /** A public endpoint's servers present its ACME certificate on HTTPS. */
  endpointTrust?: EndpointTrust;
}

export interface SnapshotTokens {
  primary: () => Promise<string>;
  /** Tried on a server that refused the primary token (403). */
  fallback?: () => Promise<string>;
}

export function snapshotTransfer(deps: SnapshotTransferDeps) {
  /** Each server's HTTPS API with the cluster's trust, in server order. */
  async function endpoints(c: ClusterRecord): Promise<Array<{ server: ServerRecord; endpoint: ConsulEndpoint }>> {
    const servers = await getClusterServers(deps.db, c.resourceKey);
    if (!servers.length) throw workerFailure('ClusterNotHealthy', `cluster ${c.resourceKey} has no servers recorded`);
    const trust = await serverTrust(deps, c.resourceKey);
    return servers.map((server) => ({
      server,
      endpoint: {
        url: `https://${server.address}:${CONSUL_HTTPS_PORT}`,
        caPem: trust.caPem,
        ...(trust.tlsNames ? { tlsNames: trust.tlsNames } : {}),
      },
    }));
  }

  return {
    /**
     * Runs `fn` against the first server that serves it (every server forwards to the leader):
     * a server that cannot be reached or answers with an error is passed over; a refusal of the
     * ACL token (403) is final unless `tokens.fallback` gives another token to try on it.
     */
    async onAnyServer<T>(c: ClusterRecord, what: string, tokens: SnapshotTokens, fn: (consul: SnapshotEndpoint) => Promise<T>): Promise<T> {
      const denied = (err: unknown) => err instanceof ConsulSnapshotError && err.status === 403;
      const problems: string[] = [];
      for (const e of await endpoints(c)) {
        let failure: unknown;
        try {
          return await fn({ ...e.endpoint, token: await tokens.primary() });
        } catch (err) {
          failure = err;
        }
        if (denied(failure) && tokens.fallback) {
          Context.current().log.warn(`${what}: Consul refused the first token on ${e.server.name}; trying the fallback token`, {
            resourceKey: c.resourceKey,
          });
          try {
            return await fn({ ...e.endpoint, token: await tokens.fallback() });
          } catch (err) {
            failure = err;
          }
        }
        // Consul's message (never the token: ConsulAdmin redacts it); no other server would say otherwise.
        if (denied(failure)) throw workerFailure('ConsulAccessDenied', (failure as Error).message);
        problems.push(`${e.server.name}: ${failure instanceof Error ? failure.message : String(failure)}`);
      }
      throw workerFailure('ClusterNotHealthy', `${what} failed on every server: ${problems.join('; ')}`);
    },
  };
}

/**
 * Heartbeats the bytes moved so far every 2 s (whileHeartbeating), also while Consul is still
 * preparing its answer; `signal` ends the transfer when the activity is cancelled (or its attempt
 * was given up on: a heartbeat then learns so), so a stale attempt stops streaming.
 */
export async function heartbeating<T>(fn: (onProgress: (bytes: number) => void, signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  let bytes = 0;
  return whileHeartbeating(
    () => fn((b) => (bytes = b), ctx.cancellationSignal),
    () => ({ bytes }),
  );
}
