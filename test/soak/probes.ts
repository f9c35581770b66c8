// What the soak (soak.ts) watches while it runs: a KV client writing every 200 ms, the server
// certificates each server presents, and the cluster as GET shows it. Each probe runs until
// stopped and keeps what it saw; soak.ts turns that into the report.
import type { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { httpCall } from '../../lib/http.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loop that runs `round` until stop() and waits for the round in flight. */
export function loop(round: () => Promise<void>, everyMs: number): { stop: () => Promise<void> } {
  let running = true;
  const done = (async () => {
    while (running) {
      const started = Date.now();
      await round();
      await sleep(Math.max(0, everyMs - (Date.now() - started)));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
  };
}

export interface KvStats {
  rounds: number;
  failedRounds: number;
  /** Rounds the first server tried refused but another accepted. */
  failedOver: number;
  longestWindowMs: number;
  longestWindowAt: string | null;
  /** The first few failures, with time and reason. */
  failures: string[];
}

/**
 * A client writing one KV key every 200 ms over TLS verified against the cluster's CA (an expired
 * server certificate fails the handshake). A round tries the server that answered last, then the
 * others, as a client agent's retry does; it fails when none accepts. The failure window runs from
 * the start of the first failed round to the start of the next good one.
 */
export function kvWriter(o: { addresses: string[]; caPem: string; token: string }) {
  const stats: KvStats = { rounds: 0, failedRounds: 0, failedOver: 0, longestWindowMs: 0, longestWindowAt: null, failures: [] };
  let preferred = 0;
  let failingSince: number | null = null;
  const control = loop(async () => {
    const started = Date.now();
    stats.rounds++;
    const reasons: string[] = [];
    for (let i = 0; i < o.addresses.length; i++) {
      const index = (preferred + i) % o.addresses.length;
      try {
        const res = await httpCall(`https://${o.addresses[index]}:8501/v1/kv/soak/counter`, {
          method: 'PUT',
          ca: o.caPem,
          headers: { 'x-consul-token': o.token },
          body: String(stats.rounds),
          timeoutInMs: 2_000,
        });
        if (res.status === 200 && res.body.trim() === 'true') {
          if (i > 0) stats.failedOver++;
          preferred = index;
          if (failingSince !== null) {
            const window = started - failingSince;
            if (window > stats.longestWindowMs) {
              stats.longestWindowMs = window;
              stats.longestWindowAt = new Date(failingSince).toISOString();
            }
            failingSince = null;
          }
          return;
        }
        reasons.push(`${o.addresses[index]}: ${res.status} ${res.body.slice(0, 80).trim()}`);
      } catch (err) {
        reasons.push(`${o.addresses[index]}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    stats.failedRounds++;
    failingSince ??= started;
    if (stats.failures.length < 20) stats.failures.push(`${new Date(started).toISOString()} ${reasons.join('; ')}`);
  }, 200);
  return {
    stats,
    stop: async () => {
      await control.stop();
      // Still failing at the end: the open window counts too.
      if (failingSince !== null) stats.longestWindowMs = Math.max(stats.longestWindowMs, Date.now() - failingSince);
    },
  };
}

/** The certificate a server presents on its HTTPS port, and whether it verifies against the CA now. */
function presented(address: string, ca: string): Promise<{ cert: X509Certificate; authorized: boolean; error: string | null }> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: address,
        port: 8501,
        ca,
        servername: 'server.dc1.consul',
        rejectUnauthorized: false,
        allowPartialTrustChain: true,
        timeout: 3_000,
      },
      () => {
        const cert = socket.getPeerX509Certificate();
        const result = { authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : null };
        socket.end();
        if (!cert) reject(new Error('no certificate'));
        else resolve({ cert, ...result });
      },
    );
    socket.on('timeout', () => socket.destroy(new Error('TLS handshake timed out')));
    socket.on('error', reject);
  });
}

export interface CertSeen {
  address: string;
  serial: string;
  validFrom: number;
  validTo: number;
  firstSeen: number;
  lastSeen: number;
}

export interface CertStats {
  seen: CertSeen[];
  probes: number;
  unreachable: number;
  /** Probes that saw a certificate past its validTo, or one the CA did not verify. */
  expiredSeen: string[];
  /** Per replacement on a server: the old certificate's time left when the new one was first seen. */
  replacementMarginsMs: number[];
}

/** Hands every server a TLS handshake every second and records each certificate it presents. */
export function certificateWatcher(o: { addresses: string[]; caPem: string }) {
  const stats: CertStats = { seen: [], probes: 0, unreachable: 0, expiredSeen: [], replacementMarginsMs: [] };
  const current = new Map<string, CertSeen>();
  const control = loop(async () => {
    await Promise.all(
      o.addresses.map(async (address) => {
        stats.probes++;
        let p;
        try {
          p = await presented(address, o.caPem);
        } catch {
          stats.unreachable++;
          return;
        }
        const now = Date.now();
        const validTo = Date.parse(p.cert.validTo);
        if (now > validTo || !p.authorized)
          stats.expiredSeen.push(`${new Date(now).toISOString()} ${address} serial ${p.cert.serialNumber}: ${p.error ?? 'past validTo'}`);
        const was = current.get(address);
        if (was && was.serial === p.cert.serialNumber) {
          was.lastSeen = now;
          return;
        }
        const seen = {
          address,
          serial: p.cert.serialNumber,
          validFrom: Date.parse(p.cert.validFrom),
          validTo,
          firstSeen: now,
          lastSeen: now,
        };
        if (was) stats.replacementMarginsMs.push(was.validTo - now);
        current.set(address, seen);
        stats.seen.push(seen);
      }),
    );
  }, 1_000);
  return { stats, stop: control.stop };
}
