// Consul's own time to elect a leader on this machine: three fresh servers of the given binary
// (bootstrap_expect 3, Consul's default Raft timing or the given raft_multiplier - our servers
// run 1), started together on
// loopback addresses of their own, until one of them names a leader. No TLS, ACLs or gossip
// encryption: only what Raft itself needs. The servers and their data are removed afterwards.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Milliseconds from starting the three servers until one of them answers /v1/status/leader with a leader. */
export async function consulElectionMs(consulBinary: string, o: { timeoutMs?: number; raftMultiplier?: number } = {}): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hcs-bench-election-'));
  // A /24 of 127/8 no cluster on the twin uses (they take addresses from the customers' ranges).
  const net = `127.213.${Math.floor(Math.random() * 200) + 20}`;
  const addresses = [1, 2, 3].map((i) => `${net}.${i}`);
  const children: ChildProcess[] = [];
  try {
    const started = performance.now();
    for (const [i, address] of addresses.entries()) {
      const config = join(dir, `server-${i}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          server: true,
          bootstrap_expect: 3,
          node_name: `election-${i}`,
          data_dir: join(dir, `data-${i}`),
          bind_addr: address,
          client_addr: address,
          retry_join: addresses.filter((a) => a !== address),
          ports: { dns: -1, grpc: -1, grpc_tls: -1, serf_wan: -1 },
          log_level: 'warn',
          // Unset: Consul's default (5), as our servers run.
          ...(o.raftMultiplier ? { performance: { raft_multiplier: o.raftMultiplier } } : {}),
        }),
      );
      children.push(spawn(consulBinary, ['agent', `-config-file=${config}`], { stdio: 'ignore' }));
    }
    const deadline = started + (o.timeoutMs ?? 60_000);
    for (;;) {
      const leader = await fetch(`http://${addresses[0]}:8500/v1/status/leader`, { signal: AbortSignal.timeout(1_000) })
        .then(async (r) => (r.ok ? ((await r.json()) as string) : ''))
        .catch(() => '');
      if (leader) return performance.now() - started;
      if (performance.now() > deadline) throw new Error('the three Consul servers elected no leader in time');
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
}
