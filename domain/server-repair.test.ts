import { describe, expect, it } from 'vitest';
import { decideRepair, type ServerSighting } from './server-repair.js';

const t0 = new Date('2026-12-03T10:00:00Z');
const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
const three = (down: number[]): ServerSighting[] =>
  [0, 1, 2].map((index) => ({
    index,
    name: `s-${index}`,
    alive: !down.includes(index),
    ...(down.includes(index) ? { problem: 'not an alive member' } : {}),
  }));
const AFTER = 300_000;

describe('decideRepair', () => {
  it('all alive: nothing down, nothing to do', () => {
    expect(decideRepair(three([]), { '1': t0.toISOString() }, at(1000), AFTER)).toEqual({ downSince: {} });
  });

  it('a server first seen down is remembered from now and waits for the setting', () => {
    const d = decideRepair(three([1]), {}, t0, AFTER);
    expect(d.downSince).toEqual({ '1': t0.toISOString() });
    expect(d.act).toBeUndefined();
    expect(d.waiting).toMatch(/s-1 down for less than 300 s/);
    expect(decideRepair(three([1]), d.downSince, at(299), AFTER).act).toBeUndefined();
  });

  it('down for the setting or longer with a quorum left: a repair of that server, naming why', () => {
    const d = decideRepair(three([1]), { '1': t0.toISOString() }, at(300), AFTER);
    expect(d.act).toEqual({ kind: 'repair', serverIndex: 1, problem: `s-1 not an alive member for 300 s (since ${t0.toISOString()})` });
    expect(d.downSince).toEqual({ '1': t0.toISOString() });
  });

  it('a server back alive is forgotten: down again later counts from then', () => {
    const back = decideRepair(three([]), { '1': t0.toISOString() }, at(200), AFTER);
    expect(back.downSince).toEqual({});
    const again = decideRepair(three([1]), back.downSince, at(400), AFTER);
    expect(again.downSince).toEqual({ '1': at(400).toISOString() });
    expect(again.act).toBeUndefined();
  });

  it('two of three down (no quorum): only a restart of the one down longest, never a reimage', () => {
    const d = decideRepair(three([0, 2]), { '2': t0.toISOString(), '0': at(10).toISOString() }, at(600), AFTER);
    expect(d.act?.kind).toBe('restart');
    expect(d.act?.serverIndex).toBe(2);
    expect(d.act?.problem).toMatch(/2 of 3 servers down, no quorum: restarted, not reimaged/);
  });

  it('one at a time: of two due, the one down longest (ties: the lower index)', () => {
    const five: ServerSighting[] = [0, 1, 2, 3, 4].map((index) => ({ index, name: `s-${index}`, alive: index !== 1 && index !== 3 }));
    expect(decideRepair(five, { '3': t0.toISOString(), '1': at(5).toISOString() }, at(900), AFTER).act).toMatchObject({
      kind: 'repair',
      serverIndex: 3,
    });
    expect(decideRepair(five, { '3': t0.toISOString(), '1': t0.toISOString() }, at(900), AFTER).act).toMatchObject({ serverIndex: 1 });
  });

  it('a one-server cluster whose server is down is restarted, not reimaged (its data is on it)', () => {
    const one: ServerSighting[] = [{ index: 0, name: 's-0', alive: false }];
    expect(decideRepair(one, { '0': t0.toISOString() }, at(300), AFTER).act?.kind).toBe('restart');
  });
});
