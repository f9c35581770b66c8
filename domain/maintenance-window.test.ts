import { describe, expect, it } from 'vitest';
import {
  isInsideWindow,
  isValidTimeZone,
  type MaintenanceWindow,
  nextWindow,
  parseStartTime,
  zonedToInstant,
  zoneOffsetMs,
} from './maintenance-window.js';

const HOUR = 3_600_000;
const berlin = (startTime: string, durationHours = 2, days: MaintenanceWindow['days'] = ['Sunday']): MaintenanceWindow => ({
  days,
  startTime,
  durationHours,
  timeZone: 'Europe/Berlin',
});
const iso = (w: { start: Date; end: Date }) => [w.start.toISOString(), w.end.toISOString()];

describe('validation helpers', () => {
  it.each(['Europe/Berlin', 'America/New_York', 'UTC', 'Asia/Kolkata', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5'])(
    'accepts %s',
    (tz) => {
      expect(isValidTimeZone(tz)).toBe(true);
    },
  );
  it.each(['Mars/Olympus_Mons', '+01:00', '', 'Europe/Berlin ', 'CEST+1', 'Europe//Berlin'])('refuses %j', (tz) => {
    expect(isValidTimeZone(tz)).toBe(false);
  });
  it('parses HH:MM 24-hour only', () => {
    expect(parseStartTime('00:00')).toEqual({ hour: 0, minute: 0 });
    expect(parseStartTime('23:59')).toEqual({ hour: 23, minute: 59 });
    for (const bad of ['24:00', '7:00', '07:60', '07:00:00', '07h00', '']) expect(parseStartTime(bad)).toBeUndefined();
  });
});

describe('zone arithmetic', () => {
  it('reads offsets in winter and summer', () => {
    expect(zoneOffsetMs(Date.parse('2026-01-15T12:00:00Z'), 'Europe/Berlin')).toBe(1 * HOUR);
    expect(zoneOffsetMs(Date.parse('2026-07-15T12:00:00Z'), 'Europe/Berlin')).toBe(2 * HOUR);
    expect(zoneOffsetMs(Date.parse('2026-01-15T12:00:00Z'), 'America/New_York')).toBe(-5 * HOUR);
    expect(zoneOffsetMs(Date.parse('2026-01-15T12:00:00.999Z'), 'UTC')).toBe(0);
  });
  it('moves a time in the spring gap forward and takes the first of a repeated time', () => {
    expect(new Date(zonedToInstant({ year: 2026, month: 3, day: 29, hour: 2, minute: 30 }, 'Europe/Berlin')).toISOString()).toBe(
      '2026-03-29T01:30:00.000Z',
    );
    expect(new Date(zonedToInstant({ year: 2026, month: 10, day: 25, hour: 2, minute: 30 }, 'Europe/Berlin')).toISOString()).toBe(
      '2026-10-25T00:30:00.000Z',
    );
  });
});

describe('nextWindow in Europe/Berlin around the spring change (2026-03-29)', () => {
  it('the Sunday before is in CET (UTC+1)', () => {
    expect(iso(nextWindow(berlin('02:00'), new Date('2026-03-21T12:00:00Z')))).toEqual([
      '2026-03-22T01:00:00.000Z',
      '2026-03-22T03:00:00.000Z',
    ]);
  });
  it('a window starting before the switch lasts its elapsed hours across it', () => {
    expect(iso(nextWindow(berlin('01:00', 4), new Date('2026-03-28T12:00:00Z')))).toEqual([
      '2026-03-29T00:00:00.000Z',
      '2026-03-29T04:00:00.000Z',
    ]);
  });
  it('02:30 does not exist that day and starts at 03:30 CEST instead', () => {
    expect(iso(nextWindow(berlin('02:30'), new Date('2026-03-28T12:00:00Z')))).toEqual([
      '2026-03-29T01:30:00.000Z',
      '2026-03-29T03:30:00.000Z',
    ]);
  });
  it('03:00 that day is already CEST (UTC+2)', () => {
    expect(nextWindow(berlin('03:00'), new Date('2026-03-28T12:00:00Z')).start.toISOString()).toBe('2026-03-29T01:00:00.000Z');
  });
  it('the Sunday after is in CEST', () => {
    expect(nextWindow(berlin('02:00'), new Date('2026-03-29T04:00:00Z')).start.toISOString()).toBe('2026-04-05T00:00:00.000Z');
  });
});

describe('nextWindow in Europe/Berlin around the autumn change (2026-10-25)', () => {
  it('02:30 happens twice; the window starts at the first (CEST)', () => {
    expect(iso(nextWindow(berlin('02:30', 1), new Date('2026-10-24T12:00:00Z')))).toEqual([
      '2026-10-25T00:30:00.000Z',
      '2026-10-25T01:30:00.000Z',
    ]);
  });
  it('a window at a repeated hour runs once, from the first occurrence', () => {
    const window = berlin('02:00', 1);
    expect(iso(nextWindow(window, new Date('2026-10-24T12:00:00Z')))).toEqual(['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z']);
    // 01:15Z is 02:15 CET, the second 02:15 of the night, one hour after the window ended.
    expect(isInsideWindow(window, new Date('2026-10-25T01:15:00Z'))).toBe(false);
    expect(isInsideWindow(window, new Date('2026-10-25T00:15:00Z'))).toBe(true);
  });
  it('03:00 that day is CET (UTC+1)', () => {
    expect(nextWindow(berlin('03:00'), new Date('2026-10-24T12:00:00Z')).start.toISOString()).toBe('2026-10-25T02:00:00.000Z');
  });
});

describe('nextWindow in America/New_York', () => {
  const ny = (days: MaintenanceWindow['days'], startTime: string, durationHours: number): MaintenanceWindow => ({
    days,
    startTime,
    durationHours,
    timeZone: 'America/New_York',
  });
  it('a late window that crosses midnight is still open the next day', () => {
    const window = ny(['Monday', 'Wednesday'], '22:00', 3);
    // Tuesday 03:00Z is Monday 23:00 EDT.
    const now = new Date('2026-03-10T03:00:00Z');
    expect(iso(nextWindow(window, now))).toEqual(['2026-03-10T02:00:00.000Z', '2026-03-10T05:00:00.000Z']);
    expect(isInsideWindow(window, now)).toBe(true);
  });
  it('after it closes, the next listed day follows', () => {
    const window = ny(['Monday', 'Wednesday'], '22:00', 3);
    expect(nextWindow(window, new Date('2026-03-10T05:00:00Z')).start.toISOString()).toBe('2026-03-12T02:00:00.000Z');
    expect(isInsideWindow(window, new Date('2026-03-10T05:00:00Z'))).toBe(false);
  });
  it('handles the spring gap (2026-03-08) and the autumn repeat (2026-11-01)', () => {
    expect(nextWindow(ny(['Sunday'], '02:30', 1), new Date('2026-03-07T12:00:00Z')).start.toISOString()).toBe('2026-03-08T07:30:00.000Z');
    expect(nextWindow(ny(['Sunday'], '01:30', 1), new Date('2026-10-31T12:00:00Z')).start.toISOString()).toBe('2026-11-01T05:30:00.000Z');
  });
});

describe('window boundaries', () => {
  const window: MaintenanceWindow = { days: ['Tuesday', 'Saturday'], startTime: '09:00', durationHours: 8, timeZone: 'UTC' };
  it('is inside from the start (inclusive) to the end (exclusive)', () => {
    expect(isInsideWindow(window, new Date('2026-06-02T09:00:00Z'))).toBe(true);
    expect(isInsideWindow(window, new Date('2026-06-02T16:59:59Z'))).toBe(true);
    expect(isInsideWindow(window, new Date('2026-06-02T17:00:00Z'))).toBe(false);
    expect(isInsideWindow(window, new Date('2026-06-02T08:59:59Z'))).toBe(false);
  });
  it('returns the current window while inside it and a later one afterwards', () => {
    expect(nextWindow(window, new Date('2026-06-02T12:00:00Z')).start.toISOString()).toBe('2026-06-02T09:00:00.000Z');
    expect(nextWindow(window, new Date('2026-06-02T17:00:00Z')).start.toISOString()).toBe('2026-06-06T09:00:00.000Z');
  });
  it('finds a window a full week ahead for a single day', () => {
    const monday: MaintenanceWindow = { ...window, days: ['Monday'] };
    expect(nextWindow(monday, new Date('2026-06-01T17:00:00Z')).start.toISOString()).toBe('2026-06-08T09:00:00.000Z');
  });
  it('refuses malformed windows', () => {
    expect(() => nextWindow({ ...window, startTime: '9:00' }, new Date())).toThrow('startTime must be HH:MM (24-hour); got "9:00"');
    expect(() => nextWindow({ ...window, days: [] }, new Date())).toThrow('a maintenance window needs at least one day');
  });
});
