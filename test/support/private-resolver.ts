// A process of a test that resolves names the way a VM in the cluster's network would: through
// the stack's DNS server (challtestsrv, which holds the clusters' records) as its system resolver.
// Consul's retry_join resolves names with the system resolver (/etc/resolv.conf: memberlist asks
// its first nameserver over TCP, then Go's resolver over UDP), both on port 53, while challtestsrv
// listens on a random port. So: a small forwarder on a free loopback address, port 53 (UDP and
// TCP) relays every query to challtestsrv, and the process runs in a mount namespace of its own
// (unshare --mount) where a resolv.conf naming the forwarder is bind-mounted over
// /etc/resolv.conf. Only that process sees it; the machine's /etc is never changed.
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect, type Server } from 'node:net';
import { join } from 'node:path';

export interface DnsForwarder {
  /** The loopback address it answers on (port 53, UDP and TCP). */
  address: string;
  /** A resolv.conf naming only the forwarder. */
  resolvConf: string;
  /** Queries relayed so far (UDP and TCP connections). */
  relayed(): number;
  close(): Promise<void>;
}

const UPSTREAM_TIMEOUT_MS = 3_000;

/** A forwarder to `upstream` (host:port, e.g. the stack's challtestsrv), its resolv.conf in `dir`. */
export async function startDnsForwarder(upstream: string, dir: string): Promise<DnsForwarder> {
  const [upHost, upPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  let relayed = 0;
  for (let attempt = 0; ; attempt++) {
    const address = `127.53.${randomInt(1, 255)}.${randomInt(2, 255)}`;
    const udp = createSocket('udp4');
    udp.on('message', (query, client) => {
      relayed++;
      const up = createSocket('udp4');
      const timer = setTimeout(() => up.close(), UPSTREAM_TIMEOUT_MS);
      up.on('error', () => (clearTimeout(timer), up.close()));
      up.on('message', (answer) => {
        clearTimeout(timer);
        udp.send(answer, client.port, client.address, () => up.close());
      });
      up.send(query, upPort, upHost);
    });
    const tcp = createServer((conn) => {
      relayed++;
      const up = connect(upPort, upHost);
      up.setTimeout(UPSTREAM_TIMEOUT_MS, () => up.destroy());
      conn.on('error', () => up.destroy());
      up.on('error', () => conn.destroy());
      conn.pipe(up).pipe(conn);
    });
    try {
      await listenUdp(udp, address);
      await listenTcp(tcp, address);
      // It never keeps a test process alive on its own.
      udp.unref();
      tcp.unref();
    } catch (err) {
      udp.close();
      tcp.close();
      if (attempt < 5 && (err as { code?: string }).code === 'EADDRINUSE') continue;
      throw err;
    }
    const resolvConf = join(dir, `resolv-${address}.conf`);
    writeFileSync(resolvConf, `nameserver ${address}\noptions timeout:2 attempts:2\n`);
    return {
      address,
      resolvConf,
      relayed: () => relayed,
      close: async () => {
        await new Promise<void>((r) => udp.close(() => r()));
        await new Promise<void>((r) => tcp.close(() => r()));
      },
    };
  }
}

function listenUdp(s: Socket, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind({ address, port: 53, exclusive: true }, () => {
      s.off('error', reject);
      resolve();
    });
  });
}

function listenTcp(s: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host: address, port: 53 }, () => {
      s.off('error', reject);
      resolve();
    });
  });
}

const shared = new Map<string, Promise<DnsForwarder>>();

/**
 * One forwarder to `upstream` for the whole test process (its sockets do not keep the process
 * alive; its resolv.conf is removed when the process exits).
 */
export function sharedDnsForwarder(upstream: string): Promise<DnsForwarder> {
  let f = shared.get(upstream);
  if (!f) {
    const dir = mkdtempSync(join(tmpdir(), 'hcs-resolver-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    f = startDnsForwarder(upstream, dir);
    shared.set(upstream, f);
    f.catch(() => shared.delete(upstream));
  }
  return f;
}

/**
 * `command args` run with `resolvConf` as its /etc/resolv.conf, in a mount namespace of its own
 * (needs root, as the tests run). The process keeps the pid it is started with (unshare and sh
 * exec into it), so a supervisor stops it as usual.
 */
export function withPrivateResolver(resolvConf: string, command: string, args: string[]): { command: string; args: string[] } {
  return {
    command: 'unshare',
    args: [
      '--mount',
      '--propagation',
      'private',
      'sh',
      '-c',
      'mount --bind "$0" /etc/resolv.conf && exec "$@"',
      resolvConf,
      command,
      ...args,
    ],
  };
}
