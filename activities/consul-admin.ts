// Talking to a cluster's Consul servers over HTTPS (TLS always on): the ACL bootstrap, the
// health gate every lifecycle step waits for, and the snapshot endpoint (streamed both ways).
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { acceptingNames, httpCall, type HttpResult } from '../lib/http.js';

/** Consul's built-in policy that grants everything. */
export const GLOBAL_MANAGEMENT_POLICY_ID = '00000000-0000-0000-0000-000000000001';

export interface ConsulEndpoint {
  /** https://<server address>:<https port> (http:// only for a stand-in server in tests) */
  url: string;
  /** PEM CA bundle of the cluster's CA; without it an https url gets the process's default trust. */
  caPem?: string;
  /** Names the server's certificate may carry instead of its address (a public endpoint's DNS name). */
  tlsNames?: string[];
}

/** A snapshot connection with no traffic for this long is given up (snapshotting takes a while). */
export const CONSUL_IDLE_TIMEOUT_MS = 120_000;

/** Consul answered a snapshot request with an error status. */
export class ConsulSnapshotError extends Error {
  override name = 'ConsulSnapshotError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface HealthReport {
  healthy: boolean;
  leader: string | undefined;
  voters: number;
  /** What is wrong, in words an operator can act on; empty when healthy. */
  problems: string[];
}

export interface ConsulCallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  /** Longer than the usual request time-out (lib/http.ts) for calls that wait by design. */
  timeoutInMs?: number;
}

/** How long a server's graceful leave may take to answer. */
export const LEAVE_TIMEOUT_MS = 30_000;

/** A server in the raft configuration. */
export interface RaftServer {
  id: string;
  /** Host only. */
  address: string;
  voter: boolean;
}

/** One call of a Consul server's HTTP API, with a token and a JSON body. */
export function consulRequest(endpoint: ConsulEndpoint, path: string, o: ConsulCallOptions = {}): Promise<HttpResult> {
  return httpCall(`${endpoint.url}${path}`, {
    method: o.method ?? 'GET',
    ...(endpoint.caPem ? { ca: endpoint.caPem } : {}),
    ...(endpoint.tlsNames ? { tlsNames: endpoint.tlsNames } : {}),
    headers: o.token ? { 'x-consul-token': o.token } : {},
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
    ...(o.timeoutInMs ? { timeoutInMs: o.timeoutInMs } : {}),
  });
}

export class ConsulAdmin {
  constructor(protected readonly endpoint: ConsulEndpoint) {}

  private call(path: string, o: ConsulCallOptions = {}): Promise<HttpResult> {
    return consulRequest(this.endpoint, path, o);
  }

  /**
   * Bootstraps ACLs with the management token we generated (stored encrypted by the caller).
   * Already bootstrapped is fine when our token works; otherwise it is an error to act on.
   */
  async bootstrapAcl(managementToken: string): Promise<'bootstrapped' | 'already-bootstrapped'> {
    const res = await this.call('/v1/acl/bootstrap', { method: 'PUT', body: { BootstrapSecret: managementToken } });
    if (res.status === 200) return 'bootstrapped';
    const self = await this.call('/v1/acl/token/self', { token: managementToken });
    if (self.status === 200) return 'already-bootstrapped';
    throw new Error(`ACL bootstrap refused (${res.status}: ${res.body.trim()}) and our management token does not work (${self.status})`);
  }

  /**
   * Creates (or finds) a token with the given accessor and secret, for a policy of its own
   * (created from `rules` when missing) or for the built-in global-management policy. Idempotent:
   * the caller fixes the token's ids, so a retry finds the token it made.
   */
  async ensureToken(
    managementToken: string,
    a: { name: string; rules: string; accessorId: string; secretId: string; managementPolicy?: boolean },
  ): Promise<void> {
    if (!a.managementPolicy) {
      const policy = await this.call(`/v1/acl/policy/name/${encodeURIComponent(a.name)}`, { token: managementToken });
      if (policy.status === 404 || (policy.status === 403 && /not found/i.test(policy.body))) {
        const created = await this.call('/v1/acl/policy', {
          method: 'PUT',
          token: managementToken,
          body: { Name: a.name, Rules: a.rules },
        });
        if (created.status !== 200) throw new Error(`creating policy ${a.name} failed (${created.status}): ${created.body.trim()}`);
      } else if (policy.status !== 200) {
        throw new Error(`reading policy ${a.name} failed (${policy.status})`);
      }
    }
    const token = await this.call(`/v1/acl/token/${a.accessorId}`, { token: managementToken });
    if (token.status === 200) return;
    const created = await this.call('/v1/acl/token', {
      method: 'PUT',
      token: managementToken,
      body: {
        AccessorID: a.accessorId,
        SecretID: a.secretId,
        Description: a.name,
        Policies: [a.managementPolicy ? { ID: GLOBAL_MANAGEMENT_POLICY_ID } : { Name: a.name }],
      },
    });
    if (created.status !== 200) throw new Error(`creating token ${a.name} failed (${created.status}): ${created.body.trim()}`);
  }

  /** The raft leader's host address ('' while there is none). */
  async leaderAddress(token: string): Promise<string> {
    const res = await this.call('/v1/status/leader', { token });
    if (res.status !== 200) throw new Error(`leader unavailable (${res.status})`);
    const addr = JSON.parse(res.body) as string;
    return addr ? addr.slice(0, addr.lastIndexOf(':')) : '';
  }

  /** Asks the leader to hand leadership to another voter (`to`: that server's address, else any). */
  async transferLeader(token: string, to?: string): Promise<void> {
    let query = '';
    if (to) {
      const id = (await this.raftServers(token)).find((s) => s.address === to)?.id;
      if (id) query = `?id=${encodeURIComponent(id)}`;
    }
    const res = await this.call(`/v1/operator/raft/transfer-leader${query}`, { method: 'POST', token });
    if (res.status !== 200) throw new Error(`leadership transfer refused (${res.status}): ${res.body.trim()}`);
  }

  /** The gossip member at `address` (alive only) and the Consul version it runs. */
  async member(token: string, address: string): Promise<{ name: string; version: string } | undefined> {
    const res = await this.call('/v1/agent/members', { token });
    if (res.status !== 200) throw new Error(`members unavailable (${res.status})`);
    const m = (JSON.parse(res.body) as Array<{ Name: string; Addr: string; Status: number; Tags: Record<string, string> }>).find(
      (x) => x.Addr === address && x.Status === 1,
    );
    return m ? { name: m.Name, version: (m.Tags.build ?? '').split(':')[0] ?? '' } : undefined;
  }

  /**
   * Asks this server to leave the cluster gracefully (scale-down); gone already is fine. A
   * server's leave waits for its own removal from raft (Consul gives it 5 s, plus the gossip
   * leaves), so the call may take well over a usual request's time.
   */
  async leave(managementToken: string): Promise<'left' | 'unreachable'> {
    const res = await this.call('/v1/agent/leave', { method: 'PUT', token: managementToken, timeoutInMs: LEAVE_TIMEOUT_MS }).catch(
      () => undefined,
    );
    if (!res) return 'unreachable';
    if (res.status !== 200) throw new Error(`leave refused (${res.status}): ${res.body.trim()}`);
    return 'left';
  }

  /** The raft configuration as the leader has it: each server's id, host address and vote. */
  async raftServers(token: string): Promise<RaftServer[]> {
    const raft = await this.call('/v1/operator/raft/configuration', { token });
    if (raft.status !== 200) throw new Error(`raft configuration unavailable (${raft.status})`);
    return (JSON.parse(raft.body) as { Servers: Array<{ ID: string; Address: string; Voter: boolean }> }).Servers.map((s) => ({
      id: s.ID,
      address: s.Address.slice(0, s.Address.lastIndexOf(':')),
      voter: s.Voter,
    }));
  }

  /** Removes one raft peer by id through the leader (it needs a quorum of the others). */
  async removeRaftPeer(token: string, id: string): Promise<void> {
    const res = await this.call(`/v1/operator/raft/peer?id=${encodeURIComponent(id)}`, { method: 'DELETE', token });
    if (res.status !== 200) throw new Error(`removing raft peer ${id} failed (${res.status}): ${res.body.trim()}`);
  }

  /** Removes raft peers whose address is not among `keep` (servers already destroyed); returns their addresses. */
  async removePeersNotIn(managementToken: string, keep: string[]): Promise<string[]> {
    const removed: string[] = [];
    for (const s of await this.raftServers(managementToken)) {
      if (keep.includes(s.address)) continue;
      await this.removeRaftPeer(managementToken, s.id);
      removed.push(s.address);
    }
    return removed;
  }

  /** Deletes a token by accessor id; an unknown token is fine. */
  async deleteToken(managementToken: string, accessorId: string): Promise<void> {
    const res = await this.call(`/v1/acl/token/${accessorId}`, { method: 'DELETE', token: managementToken });
    if (res.status !== 200 && !(res.status === 403 && /not found/i.test(res.body)) && res.status !== 404)
      throw new Error(`deleting token ${accessorId} failed (${res.status}): ${res.body.trim()}`);
  }

  /** Datacenters this server knows through the WAN pool (its own included). */
  async datacenters(token: string): Promise<string[]> {
    const res = await this.call('/v1/catalog/datacenters', { token });
    if (res.status !== 200) throw new Error(`datacenters unavailable (${res.status})`);
    return JSON.parse(res.body) as string[];
  }

  /** ACL replication in a secondary datacenter: whether it runs, and which datacenter it copies. */
  async aclReplication(token: string): Promise<{ enabled: boolean; running: boolean; sourceDatacenter: string; replicatedIndex: number }> {
    const res = await this.call('/v1/acl/replication', { token });
    if (res.status !== 200) throw new Error(`ACL replication status unavailable (${res.status}): ${res.body.trim()}`);
    const r = JSON.parse(res.body) as { Enabled: boolean; Running: boolean; SourceDatacenter: string; ReplicatedTokenIndex: number };
    return { enabled: r.Enabled, running: r.Running, sourceDatacenter: r.SourceDatacenter, replicatedIndex: r.ReplicatedTokenIndex };
  }

  /** Members of the WAN pool: gossip name (node.datacenter), datacenter and status (1 alive, 3 left, 4 failed). */
  async wanMembers(token: string): Promise<Array<{ name: string; datacenter: string; address: string; status: number }>> {
    const res = await this.call('/v1/agent/members?wan=1', { token });
    if (res.status !== 200) throw new Error(`WAN members unavailable (${res.status})`);
    return (JSON.parse(res.body) as Array<{ Name: string; Addr: string; Status: number; Tags: Record<string, string> }>).map((m) => ({
      name: m.Name,
      datacenter: m.Tags.dc ?? '',
      address: m.Addr,
      status: m.Status,
    }));
  }

  /** Removes a WAN member for good (force-leave with prune): its servers are gone. */
  async forceLeaveWan(token: string, name: string): Promise<void> {
    const res = await this.call(`/v1/agent/force-leave/${encodeURIComponent(name)}?prune=1&wan=1`, { method: 'PUT', token });
    if (res.status !== 200) throw new Error(`force-leave of ${name} refused (${res.status}): ${res.body.trim()}`);
  }

  /**
   * The health gate: a leader, exactly the expected voters (each the node alive at its address
   * now), autopilot healthy, and ACLs enforced (an anonymous read of the agent is denied).
   */
  async health(managementToken: string, expectedServers: number): Promise<HealthReport> {
    const problems: string[] = [];
    const leaderRes = await this.call('/v1/status/leader', { token: managementToken });
    const leader = leaderRes.status === 200 ? (JSON.parse(leaderRes.body) as string) || undefined : undefined;
    if (!leader) problems.push('no raft leader');
    let voters = 0;
    const [raft, members] = await Promise.all([
      this.call('/v1/operator/raft/configuration', { token: managementToken }),
      this.call('/v1/agent/members', { token: managementToken }),
    ]);
    if (raft.status === 200 && members.status === 200) {
      // A voter counts only while it is the node that lives at its address now: after a reimage
      // the raft configuration keeps the old node id as a voter for a moment, beside the new
      // server that is not a voter yet.
      const alive = new Set(
        (JSON.parse(members.body) as Array<{ Status: number; Tags: Record<string, string> }>)
          .filter((m) => m.Status === 1 && m.Tags.role === 'consul' && m.Tags.id)
          .map((m) => m.Tags.id!),
      );
      const servers = (JSON.parse(raft.body) as { Servers: Array<{ ID: string; Address: string; Voter: boolean }> }).Servers;
      const stale = servers.filter((s) => s.Voter && !alive.has(s.ID));
      voters = servers.filter((s) => s.Voter && alive.has(s.ID)).length;
      if (voters !== expectedServers)
        problems.push(
          `${voters} live voters in raft, expected ${expectedServers}` +
            (stale.length ? ` (voters no live server answers for: ${stale.map((s) => s.Address).join(', ')})` : ''),
        );
    } else {
      problems.push(`raft configuration unavailable (${raft.status === 200 ? `members ${members.status}` : raft.status})`);
    }
    const autopilot = await this.call('/v1/operator/autopilot/health', { token: managementToken });
    if (autopilot.status === 200) {
      const h = JSON.parse(autopilot.body) as { Healthy: boolean; Servers: Array<{ Name: string; Healthy: boolean }> };
      if (!h.Healthy)
        problems.push(
          `autopilot unhealthy: ${
            h.Servers.filter((s) => !s.Healthy)
              .map((s) => s.Name)
              .join(', ') || 'no servers'
          }`,
        );
    } else {
      problems.push(`autopilot health unavailable (${autopilot.status})`);
    }
    const anonymous = await this.call('/v1/agent/self');
    if (anonymous.status !== 403) problems.push(`ACLs not enforced: an anonymous read of the agent answered ${anonymous.status}`);
    return { healthy: problems.length === 0, leader, voters, problems };
  }

  /**
   * GET /v1/snapshot: Consul's snapshot archive as it streams in (read it to the end or destroy
   * it), once Consul has answered 200, and its X-Consul-Index. A refusal is a ConsulSnapshotError
   * with Consul's own words (never the token).
   */
  async snapshot(token: string): Promise<{ archive: Readable; consulIndex?: string }> {
    const req = this.snapshotRequest(token, 'GET');
    const responding = responseOf(req);
    req.end();
    const res = await responding.catch((err: unknown) => {
      throw new Error(`snapshot save: could not reach Consul at ${this.endpoint.url}: ${describe(err)}`);
    });
    if (res.statusCode !== 200) throw await this.snapshotRefusal(res, token, 'snapshot save refused');
    const consulIndex = res.headers['x-consul-index'];
    return { archive: res, ...(typeof consulIndex === 'string' ? { consulIndex } : {}) };
  }

  /**
   * PUT /v1/snapshot: streams `body` (a source and the transforms it passes through, exactly
   * `sizeBytes` bytes in all) into Consul's restore with an explicit Content-Length (Consul ignores
   * chunked request bodies). A failure of the body aborts the request before Consul has the whole
   * snapshot; `what` names the restore in the errors. Consul's refusal is a ConsulSnapshotError.
   */
  async restoreSnapshot(
    token: string,
    a: { what: string; sizeBytes: number; body: [Readable, ...NodeJS.ReadWriteStream[]] },
  ): Promise<void> {
    const req = this.snapshotRequest(token, 'PUT', { 'content-type': 'application/octet-stream', 'content-length': String(a.sizeBytes) });
    const responding = responseOf(req);
    const [piped, answered] = await Promise.allSettled([pipeline([...a.body, req]), responding]);
    if (answered.status === 'fulfilled' && answered.value.statusCode !== 200) {
      throw await this.snapshotRefusal(answered.value, token, 'snapshot restore refused');
    }
    if (piped.status === 'rejected') {
      a.body[0].destroy();
      throw new Error(`${a.what} aborted before Consul received the whole snapshot: ${describe(piped.reason)}`);
    }
    if (answered.status === 'rejected') {
      throw new Error(`${a.what}: Consul at ${this.endpoint.url} gave no answer: ${describe(answered.reason)}`);
    }
    answered.value.resume();
  }

  private snapshotRequest(token: string, method: 'GET' | 'PUT', headers: Record<string, string> = {}): ClientRequest {
    const url = new URL('/v1/snapshot', this.endpoint.url);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`Consul URL must be http(s): ${this.endpoint.url}`);
    const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = make(url, {
      method,
      headers: { 'x-consul-token': token, ...headers },
      // The cluster's bundle is its intermediate CA alone: a trust anchor as it is.
      ...(url.protocol === 'https:' && this.endpoint.caPem ? { ca: this.endpoint.caPem, allowPartialTrustChain: true } : {}),
      ...(url.protocol === 'https:' && this.endpoint.tlsNames?.length
        ? { checkServerIdentity: acceptingNames(this.endpoint.tlsNames) }
        : {}),
      timeout: CONSUL_IDLE_TIMEOUT_MS,
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url.href}: no data from Consul for ${CONSUL_IDLE_TIMEOUT_MS} ms`)));
    return req;
  }

  /** Consul's own words for an error status: the start of its body, never the token. */
  private async snapshotRefusal(res: IncomingMessage, token: string, what: string): Promise<ConsulSnapshotError> {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        if (size < 4096) chunks.push(chunk);
        size += chunk.length;
      }
    } catch {
      /* the status alone still says what happened */
    }
    let message = Buffer.concat(chunks).toString('utf8').slice(0, 1000).trim() || '(no message)';
    if (token) message = message.split(token).join('[token]');
    const status = res.statusCode ?? 0;
    return new ConsulSnapshotError(
      status,
      `${what}: Consul at ${this.endpoint.url} answered ${status} ${res.statusMessage ?? ''}`.trimEnd() + `: ${message}`,
    );
  }
}

function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
