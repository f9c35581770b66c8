// When a server that stays down is repaired without a human (issue 17 item 2): the health check
// remembers since when each server has been seen down (not an alive member, or its VM failed)
// and acts on the one down longest once that exceeds the setting - one server at a time. While
// the others hold a quorum it is repaired (reimaged: its disk is not needed, the others have the
// data); without a quorum it is only restarted (its disk may hold data the cluster needs, so
// nothing is wiped and the next checks try again).

/** What one health check saw of one server. */
export interface ServerSighting {
  index: number;
  name: string;
  /** Alive gossip member (seen by any server that answered) and its VM not failed. */
  alive: boolean;
  /** Why it counts as down, in words an operator can act on. */
  problem?: string;
}

export interface RepairDecision {
  /** Since when each down server has been down (ISO), by server index; alive servers are dropped. */
  downSince: Record<string, string>;
  /** What to start now, if anything: a repair (reimage) with a quorum left, else a restart. */
  act?: { kind: 'repair' | 'restart'; serverIndex: number; problem: string };
  /** Why no repair starts although a server is down (empty when none is down). */
  waiting?: string;
}

/**
 * The next state of the check and whether a repair starts: a server down for at least
 * `repairAfterMs` (counted from the first check that saw it down) is repaired, the longest down
 * first, only when the others hold a majority of the cluster's servers.
 */
export function decideRepair(
  sightings: readonly ServerSighting[],
  previous: Readonly<Record<string, string>>,
  now: Date,
  repairAfterMs: number,
): RepairDecision {
  const downSince: Record<string, string> = {};
  for (const s of sightings) if (!s.alive) downSince[String(s.index)] = previous[String(s.index)] ?? now.toISOString();
  const down = sightings.filter((s) => !s.alive);
  if (down.length === 0) return { downSince };
  const quorum = Math.floor(sightings.length / 2) + 1;
  const alive = sightings.length - down.length;
  const due = down
    .map((s) => ({ s, since: Date.parse(downSince[String(s.index)]!) }))
    .filter((d) => now.getTime() - d.since >= repairAfterMs)
    .sort((a, b) => a.since - b.since || a.s.index - b.s.index);
  const first = due[0];
  if (!first)
    return { downSince, waiting: `${down.map((s) => s.name).join(', ')} down for less than ${Math.round(repairAfterMs / 1000)} s` };
  const seconds = Math.round((now.getTime() - first.since) / 1000);
  const problem = `${first.s.name} ${first.s.problem ?? 'not alive'} for ${seconds} s (since ${downSince[String(first.s.index)]})`;
  if (alive < quorum)
    return {
      downSince,
      act: {
        kind: 'restart',
        serverIndex: first.s.index,
        problem: `${problem}; ${down.length} of ${sightings.length} servers down, no quorum: restarted, not reimaged`,
      },
    };
  return { downSince, act: { kind: 'repair', serverIndex: first.s.index, problem } };
}
