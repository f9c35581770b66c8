// endPeerings against a scripted stand-in for Consul's peering API: the order of deletes against
// stream state is the logic under test (the real boundary is test/lifecycle/peering.test.ts).
import { describe, expect, it } from 'vitest';
import type { Peering } from './consul-peering.js';
import { endPeerings } from './peering-end.js';

const times = { reachWaitMs: 300, connectWaitMs: 300, forgetWaitMs: 300, terminationWaitMs: 250, pollMs: 10 };

/** A peering table whose states follow a script: each list() call advances time by one step. */
function fakeConsul(script: (call: number) => Peering[]) {
  let call = 0;
  const deleted: Array<{ name: string; stateAtDelete: string; at: number }> = [];
  let current: Peering[] = [];
  return {
    deleted,
    async list() {
      current = script(call++).filter((p) => !deleted.some((d) => d.name === p.Name));
      return current;
    },
    async delete(_token: string, name: string) {
      deleted.push({ name, stateAtDelete: current.find((p) => p.Name === name)?.State ?? 'unknown', at: Date.now() });
    },
  };
}

describe('endPeerings', () => {
  it('deletes an active peering at once and a pending one (nobody to tell)', async () => {
    const consul = fakeConsul(() => [
      { Name: 'a', State: 'ACTIVE' },
      { Name: 'p', State: 'PENDING' },
    ]);
    const warnings: string[] = [];
    expect(await endPeerings(consul, 't', (m) => warnings.push(m), times)).toEqual({ removed: ['a', 'p'] });
    expect(consul.deleted).toMatchObject([
      { name: 'a', stateAtDelete: 'ACTIVE' },
      { name: 'p', stateAtDelete: 'PENDING' },
    ]);
    expect(warnings).toEqual([]);
  });

  it('waits for a reconnecting stream to be ACTIVE before deleting, so the peer is told', async () => {
    const consul = fakeConsul((call) => [{ Name: 'b', State: call < 5 ? 'FAILING' : 'ACTIVE' }]);
    const warnings: string[] = [];
    await endPeerings(consul, 't', (m) => warnings.push(m), times);
    expect(consul.deleted).toMatchObject([{ name: 'b', stateAtDelete: 'ACTIVE' }]);
    expect(warnings).toEqual([]);
  });

  it('deletes a peering whose stream never comes back after the wait, with a warning', async () => {
    const consul = fakeConsul(() => [{ Name: 'gone', State: 'FAILING' }]);
    const warnings: string[] = [];
    const started = Date.now();
    await endPeerings(consul, 't', (m) => warnings.push(m), times);
    expect(Date.now() - started).toBeGreaterThanOrEqual(times.connectWaitMs);
    expect(consul.deleted).toMatchObject([{ name: 'gone', stateAtDelete: 'FAILING' }]);
    expect(warnings).toEqual(['deleting a peering whose stream did not reconnect: its peer will see it as failing']);
  });

  it('keeps the servers up terminationWaitMs after deleting a connected peering, though Consul forgot it at once', async () => {
    // Consul sends the Terminated message from a loop that runs at most every 5 s (peering-end.ts).
    const consul = fakeConsul(() => [{ Name: 'a', State: 'ACTIVE' }]);
    await endPeerings(consul, 't', () => undefined, times);
    const returnedAt = Date.now();
    expect(consul.deleted).toHaveLength(1);
    expect(returnedAt - consul.deleted[0]!.at).toBeGreaterThanOrEqual(times.terminationWaitMs);
  });

  it('does not wait after deleting only peerings with nobody to tell or whose stream never came back', async () => {
    const slow = { ...times, terminationWaitMs: 60_000 };
    const pending = fakeConsul(() => [{ Name: 'p', State: 'PENDING' }]);
    const failing = fakeConsul(() => [{ Name: 'f', State: 'FAILING' }]);
    const started = Date.now();
    await endPeerings(pending, 't', () => undefined, slow);
    await endPeerings(failing, 't', () => undefined, slow);
    // Only the failing one's reconnect wait (connectWaitMs) was spent, not a minute.
    expect(Date.now() - started).toBeLessThan(slow.terminationWaitMs);
    expect([...pending.deleted, ...failing.deleted].map((d) => d.name)).toEqual(['p', 'f']);
  });

  it('leaves peerings already being deleted alone and waits until Consul forgets them', async () => {
    let lists = 0;
    const deletes: string[] = [];
    const consul = {
      async list(): Promise<Peering[]> {
        lists++;
        return lists < 4 ? [{ Name: 'd', State: 'DELETING' }] : [];
      },
      async delete(_t: string, name: string) {
        deletes.push(name);
      },
    };
    expect(await endPeerings(consul, 't', () => undefined, times)).toEqual({ removed: [] });
    expect(deletes).toEqual([]);
    expect(lists).toBe(4);
  });
});
