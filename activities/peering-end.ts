// Ending a cluster's peerings before it goes. Consul tells a peer that a peering ended (the peer
// marks it TERMINATED) only over a connected peering stream (peerstream's Terminated message); a
// peering deleted while its stream is down leaves the peer FAILING for good. So each peering whose
// stream is reconnecting is given time to be ACTIVE again before it is deleted, and the delete
// waits until Consul has forgotten them all.
//
// Consul forgets a deleted peering within milliseconds, but it sends the Terminated message later:
// the leader ends the streams of deleted peerings from its peering-sync loop, which runs at most
// once every 5 s after a burst of 5 (consul agent/consul/leader_peering.go, runPeeringSync, limited
// by loopRateLimit 0.2/s in leader_connect.go). Establishing a peering spends that burst. So after
// deleting a connected peering the servers are kept for `terminationWaitMs` more, twice that
// period, before the cluster may be destroyed.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ConsulPeering, Peering } from './consul-peering.js';

export interface PeeringEndTimes {
  /**
   * How long a cluster's servers may not answer with a leader (busy, an election) before the
   * delete goes on without telling its peers.
   */
  reachWaitMs: number;
  /** How long a peering whose stream is down may take to reconnect before it is deleted anyway. */
  connectWaitMs: number;
  /** How long Consul may take to forget the deleted peerings (it removes imported data first). */
  forgetWaitMs: number;
  /** How long the servers stay up after a connected peering's delete, for Consul to tell the peer. */
  terminationWaitMs: number;
  pollMs: number;
}

export const PEERING_END_TIMES: PeeringEndTimes = {
  reachWaitMs: 30_000,
  connectWaitMs: 90_000,
  forgetWaitMs: 60_000,
  terminationWaitMs: 10_000,
  pollMs: 1_000,
};

/** States in which the peer has nothing to be told: never established, or already ended. */
const NOTHING_TO_TELL = new Set(['PENDING', 'TERMINATED', 'DELETING']);

type PeeringApi = Pick<ConsulPeering, 'list' | 'delete'>;

/**
 * Deletes every peering, each while its stream is connected where it can be, and returns their
 * names once Consul has forgotten them and has had `terminationWaitMs` to tell the connected peers.
 */
export async function endPeerings(
  admin: PeeringApi,
  token: string,
  warn: (message: string, attributes: Record<string, unknown>) => void,
  times = PEERING_END_TIMES,
): Promise<{ removed: string[] }> {
  let peerings = (await admin.list(token)).filter((p) => p.State !== 'DELETING');
  const removed = peerings.map((p) => p.Name);
  const connectEnd = Date.now() + times.connectWaitMs;
  /** When the last connected peering was deleted: its peer is told from then on. */
  let lastToldAt: number | undefined;
  while (peerings.length > 0) {
    // Delete what can be told now (connected) or has nobody to tell; wait for the rest to reconnect.
    const ready = peerings.filter((p) => p.State === 'ACTIVE' || NOTHING_TO_TELL.has(p.State) || Date.now() >= connectEnd);
    for (const p of ready) {
      if (p.State !== 'ACTIVE' && !NOTHING_TO_TELL.has(p.State))
        warn('deleting a peering whose stream did not reconnect: its peer will see it as failing', { peer: p.Name, state: p.State });
      await admin.delete(token, p.Name);
      if (p.State === 'ACTIVE') lastToldAt = Date.now();
    }
    const left = new Set(peerings.filter((p) => !ready.includes(p)).map((p) => p.Name));
    if (left.size === 0) break;
    await sleep(times.pollMs);
    peerings = (await admin.list(token)).filter((p: Peering) => left.has(p.Name) && p.State !== 'DELETING');
  }
  for (const end = Date.now() + times.forgetWaitMs; (await admin.list(token)).length > 0;) {
    if (Date.now() >= end) {
      warn('Consul has not yet forgotten every deleted peering; the delete goes on', { peerings: removed });
      break;
    }
    await sleep(times.pollMs);
  }
  if (lastToldAt !== undefined) await sleep(lastToldAt + times.terminationWaitMs - Date.now());
  return { removed };
}
