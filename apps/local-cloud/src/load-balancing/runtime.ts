// The data path of the twin's load balancers: each load-balancing rule is a real TCP forwarder
// listening on its frontend's public IP (a loopback address) at frontendPort. Every connection
// goes, as raw TCP (no TLS termination), to one healthy member of the backend pool at backendPort,
// round-robin. Health comes from the rule's probe: a TCP connect to every member at the probe's
// port every intervalInSeconds; a member is out after numberOfProbes failures in a row and back
// after one success, and a new member is out until its first success (as in Azure). A rule
// without a probe sends to every member. Connections idle longer than the rule's
// idleTimeoutInMinutes are closed; removing a load balancer closes its listeners and connections.
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Backend } from './backends.js';

export interface ProbeSpec {
  id: string;
  port: number;
  intervalMs: number;
  /** Failures in a row that take a member out of rotation. */
  failuresToDown: number;
}

export interface RuleSpec {
  id: string;
  frontendIp: string;
  frontendPort: number;
  backendPort: number;
  poolId: string;
  probe?: ProbeSpec;
  idleTimeoutMs: number;
}

export interface BackendHealth {
  ipAddress: string;
  ipConfigurationId?: string;
  state: 'Up' | 'Down';
  reason: string;
}

export interface LoadBalancerRuntimeOptions {
  /** The pool's members now (read live from the twin's state). */
  members(poolId: string): Backend[];
  onEvent(message: string): void;
}

interface Listener {
  server: Server;
  rule: RuleSpec;
  sockets: Set<Socket>;
  next: number;
}

interface MemberState {
  up: boolean;
  failures: number;
  reason: string;
}

interface ProbeLoop {
  spec: ProbeSpec;
  pools: Set<string>;
  timer?: NodeJS.Timeout;
  /** By member address. */
  members: Map<string, MemberState>;
  stopped: boolean;
}

interface Entry {
  listeners: Map<string, Listener>;
  probes: Map<string, ProbeLoop>;
}

const key = (id: string) => id.toLowerCase();

export class LoadBalancerRuntime {
  readonly #entries = new Map<string, Entry>();

  constructor(private readonly o: LoadBalancerRuntimeOptions) {}

  /**
   * Makes the load balancer's listeners and probes match `rules`: unchanged frontends keep their
   * listener (and connections), others are closed or opened. Probes run one round before this
   * resolves, so members that answer are in rotation when the write finishes. Rejects, naming
   * every frontend that could not listen, when a bind fails; the other rules stay served.
   */
  async apply(lbId: string, rules: RuleSpec[]): Promise<void> {
    let entry = this.#entries.get(key(lbId));
    if (!entry) this.#entries.set(key(lbId), (entry = { listeners: new Map(), probes: new Map() }));
    const wanted = new Map(rules.map((r) => [key(r.id), r]));
    for (const [k, l] of entry.listeners) {
      const r = wanted.get(k);
      if (!r || r.frontendIp !== l.rule.frontendIp || r.frontendPort !== l.rule.frontendPort) {
        entry.listeners.delete(k);
        await closeListener(l);
      }
    }
    this.#syncProbes(entry, rules);
    const failures: string[] = [];
    for (const [k, rule] of wanted) {
      const existing = entry.listeners.get(k);
      if (existing) {
        existing.rule = rule;
        continue;
      }
      try {
        entry.listeners.set(k, await this.#listen(entry, rule));
      } catch (err) {
        failures.push(`${rule.frontendIp}:${rule.frontendPort} (rule ${rule.id.split('/').pop()}): ${(err as Error).message}`);
      }
    }
    await Promise.all([...entry.probes.values()].map((p) => this.#probeRound(p)));
    if (failures.length) throw new Error(`the frontend could not listen on ${failures.join('; ')}`);
  }

  /** Closes the load balancer's listeners (and their connections) and stops its probes. */
  async remove(lbId: string): Promise<void> {
    const entry = this.#entries.get(key(lbId));
    if (!entry) return;
    this.#entries.delete(key(lbId));
    for (const p of entry.probes.values()) stopProbe(p);
    await Promise.all([...entry.listeners.values()].map(closeListener));
  }

  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((k) => this.remove(k)));
  }

  /** Whether a listener serves the rule now. */
  serving(ruleId: string): boolean {
    return [...this.#entries.values()].some((e) => e.listeners.has(key(ruleId)));
  }

  /** Every member of the rule's pool with its probe state (Azure's load-balancing rule health). */
  health(rule: Pick<RuleSpec, 'id' | 'poolId' | 'probe'>): BackendHealth[] {
    const lbId = rule.id.split('/').slice(0, -2).join('/');
    const probe = rule.probe && this.#entries.get(key(lbId))?.probes.get(key(rule.probe.id));
    return this.o.members(rule.poolId).map((m) => {
      const s = rule.probe ? probe?.members.get(m.ipAddress) : { up: true, failures: 0, reason: 'No health probe: always in rotation' };
      return {
        ipAddress: m.ipAddress,
        ...(m.ipConfigurationId ? { ipConfigurationId: m.ipConfigurationId } : {}),
        state: s?.up ? 'Up' : 'Down',
        reason: s?.reason ?? 'Not probed yet',
      };
    });
  }

  #syncProbes(entry: Entry, rules: RuleSpec[]): void {
    const wanted = new Map<string, { spec: ProbeSpec; pools: Set<string> }>();
    for (const r of rules) {
      if (!r.probe) continue;
      const w = wanted.get(key(r.probe.id)) ?? { spec: r.probe, pools: new Set<string>() };
      w.pools.add(r.poolId);
      wanted.set(key(r.probe.id), w);
    }
    for (const [k, p] of entry.probes) {
      const w = wanted.get(k);
      if (!w || JSON.stringify(w.spec) !== JSON.stringify(p.spec)) {
        stopProbe(p);
        entry.probes.delete(k);
      }
    }
    for (const [k, w] of wanted) {
      const existing = entry.probes.get(k);
      if (existing) {
        existing.pools = w.pools;
        continue;
      }
      const loop: ProbeLoop = { spec: w.spec, pools: w.pools, members: new Map(), stopped: false };
      entry.probes.set(k, loop);
      const tick = () => {
        if (loop.stopped) return;
        loop.timer = setTimeout(() => void this.#probeRound(loop).finally(tick), loop.spec.intervalMs);
        loop.timer.unref();
      };
      tick();
    }
  }

  async #probeRound(loop: ProbeLoop): Promise<void> {
    const members = new Set([...loop.pools].flatMap((pool) => this.o.members(pool).map((m) => m.ipAddress)));
    for (const ip of loop.members.keys()) if (!members.has(ip)) loop.members.delete(ip);
    const timeoutMs = Math.min(loop.spec.intervalMs, 5_000);
    await Promise.all(
      [...members].map(async (ip) => {
        const result = await tcpCheck(ip, loop.spec.port, timeoutMs);
        if (loop.stopped) return;
        const s = loop.members.get(ip) ?? { up: false, failures: 0, reason: 'Not probed yet' };
        loop.members.set(ip, s);
        if (result === undefined) {
          if (!s.up) this.o.onEvent(`load balancer probe ${loop.spec.id}: ${ip}:${loop.spec.port} is up`);
          Object.assign(s, { up: true, failures: 0, reason: `TCP connect to port ${loop.spec.port} succeeded` });
          return;
        }
        s.failures++;
        s.reason = `TCP connect to port ${loop.spec.port} failed ${s.failures} time(s) in a row: ${result}`;
        if (s.up && s.failures >= loop.spec.failuresToDown) {
          s.up = false;
          this.o.onEvent(`load balancer probe ${loop.spec.id}: ${ip}:${loop.spec.port} is down (${result})`);
        }
      }),
    );
  }

  async #listen(entry: Entry, rule: RuleSpec): Promise<Listener> {
    const listener: Listener = { server: createServer({ allowHalfOpen: true }), rule, sockets: new Set(), next: 0 };
    listener.server.on('connection', (client) => this.#forward(entry, listener, client));
    await new Promise<void>((resolve, reject) => {
      listener.server.once('error', reject);
      listener.server.listen({ host: rule.frontendIp, port: rule.frontendPort, exclusive: true }, () => {
        listener.server.off('error', reject);
        resolve();
      });
    });
    listener.server.on('error', (err) => this.o.onEvent(`load balancer rule ${rule.id}: listener error ${err.message}`));
    return listener;
  }

  #forward(entry: Entry, listener: Listener, client: Socket): void {
    const rule = listener.rule;
    const probe = rule.probe && entry.probes.get(key(rule.probe.id));
    const members = this.o.members(rule.poolId).filter((m) => !rule.probe || probe?.members.get(m.ipAddress)?.up);
    if (members.length === 0) {
      // No healthy member: Azure drops the flow; a reset tells the client at once.
      client.resetAndDestroy();
      return;
    }
    const target = members[listener.next++ % members.length]!;
    const upstream = connect({ host: target.ipAddress, port: rule.backendPort, allowHalfOpen: true });
    listener.sockets.add(client);
    listener.sockets.add(upstream);
    // A failure on either side resets the other (as a backend's reset reaches the client
    // through Azure's pass-through balancer), so a client never mistakes it for an empty answer.
    const kill = () => {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    client.on('error', kill);
    upstream.on('error', kill);
    // 'close' comes once both directions are done: the other side goes too, once what was
    // piped to it is written (destroy() would drop an answer still in its buffer).
    client.on('close', () => {
      listener.sockets.delete(client);
      upstream.destroySoon();
    });
    upstream.on('close', () => {
      listener.sockets.delete(upstream);
      client.destroySoon();
    });
    client.setTimeout(rule.idleTimeoutMs, kill);
    upstream.setTimeout(rule.idleTimeoutMs, kill);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function stopProbe(p: ProbeLoop): void {
  p.stopped = true;
  clearTimeout(p.timer);
}

async function closeListener(l: Listener): Promise<void> {
  const closed = new Promise<void>((resolve) => l.server.close(() => resolve()));
  for (const s of l.sockets) s.destroy();
  l.sockets.clear();
  await closed;
}

/** undefined when a TCP connection opens within the timeout, else why not. */
function tcpCheck(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (why: string | undefined) => {
      socket.destroy();
      resolve(why);
    };
    socket.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}
