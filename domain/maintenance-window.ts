// Maintenance windows are wall-clock times in the customer's time zone ("Sundays 02:00
// Europe/Berlin"), so they move against UTC twice a year. We compute them with Intl only:
// this module runs inside Temporal workflows, where no date library or clock is available,
// so "now" is always a parameter.
import { describeValue } from './errors.js';

export const WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

export interface MaintenanceWindow {
  days: Weekday[];
  /** Local wall-clock start, 'HH:MM' 24-hour. */
  startTime: string;
  /** Elapsed hours, not wall-clock: a 4-hour window over a DST change still lasts 4 hours. */
  durationHours: number;
  /** IANA name, e.g. 'Europe/Berlin'. */
  timeZone: string;
}

export interface WindowOccurrence {
  start: Date;
  end: Date;
}

export const MIN_WINDOW_HOURS = 1;
export const MAX_WINDOW_HOURS = 8;

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const START_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;
// IANA names are Area/Location (or a bare alias like UTC). Offsets such as "+01:00", which
// newer ICU versions accept, are refused: they have no DST rules and read like a mistake.
const IANA_NAME = /^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/;

export function isWeekday(value: string): value is Weekday {
  return (WEEKDAYS as readonly string[]).includes(value);
}

export function isValidTimeZone(timeZone: string): boolean {
  if (!IANA_NAME.test(timeZone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** 'HH:MM' (24-hour, two digits each) to hour and minute; undefined when malformed. */
export function parseStartTime(value: string): { hour: number; minute: number } | undefined {
  const match = START_TIME.exec(value);
  if (!match) return undefined;
  return { hour: Number(match[1]), minute: Number(match[2]) };
}

/**
 * The window in progress at `now`, or else the next one to start. Windows start at the
 * given wall-clock time on each listed day; a start time that does not exist that day (the
 * spring-forward gap) moves forward by the gap, and one that exists twice (fall-back) uses
 * the first occurrence, as Temporal.ZonedDateTime's 'compatible' disambiguation does.
 */
export function nextWindow(window: MaintenanceWindow, now: Date): WindowOccurrence {
  const start = parseStartTime(window.startTime);
  if (!start) throw new RangeError(`startTime must be HH:MM (24-hour); got ${describeValue(window.startTime)}`);
  if (window.days.length === 0) throw new RangeError('a maintenance window needs at least one day');
  const nowMs = now.getTime();
  const today = wallClock(nowMs, window.timeZone);
  // Start from yesterday: a window that began yesterday evening may still be open.
  for (let offset = -1; offset <= 8; offset += 1) {
    const day = new Date(Date.UTC(today.year, today.month - 1, today.day + offset));
    if (!window.days.includes(weekdayOf(day))) continue;
    const startMs = zonedToInstant(
      { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), ...start },
      window.timeZone,
    );
    const endMs = startMs + window.durationHours * HOUR_MS;
    if (endMs > nowMs) return { start: new Date(startMs), end: new Date(endMs) };
  }
  // Unreachable with at least one day: some listed weekday falls within any 8-day span.
  throw new RangeError('no maintenance window found within a week');
}

export function isInsideWindow(window: MaintenanceWindow, now: Date): boolean {
  return nextWindow(window, now).start.getTime() <= now.getTime();
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
}

// Formatters are costly to build and pure, so caching them keeps workflows deterministic.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Local wall-clock reading of an instant in a zone. */
export function wallClock(epochMs: number, timeZone: string): WallClock & { second: number } {
  const parts: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year ?? NaN,
    month: parts.month ?? NaN,
    day: parts.day ?? NaN,
    // Some ICU versions render midnight as 24 even with h23.
    hour: (parts.hour ?? NaN) % 24,
    minute: parts.minute ?? NaN,
    second: parts.second ?? NaN,
  };
}

/** Offset of the zone from UTC at an instant, in milliseconds (east positive). */
export function zoneOffsetMs(epochMs: number, timeZone: string): number {
  const w = wallClock(epochMs, timeZone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second);
  return asUtc - (epochMs - (((epochMs % 1000) + 1000) % 1000));
}

/** The instant a local wall-clock time names in a zone, resolving gaps and overlaps as described on nextWindow. */
export function zonedToInstant(local: WallClock, timeZone: string): number {
  const asUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  // Offsets a day either side bracket any single transition near this wall-clock time.
  const before = zoneOffsetMs(asUtc - DAY_MS, timeZone);
  const after = zoneOffsetMs(asUtc + DAY_MS, timeZone);
  const candidates = [...new Set([before, after])]
    .map((offset) => asUtc - offset)
    .filter((instant) => zoneOffsetMs(instant, timeZone) === asUtc - instant)
    .sort((a, b) => a - b);
  // No candidate means the time falls in a gap: reading it with the earlier offset lands
  // just after the gap, by exactly the gap's length.
  return candidates[0] ?? asUtc - before;
}

function weekdayOf(utcMidnight: Date): Weekday {
  // getUTCDay counts from Sunday; WEEKDAYS starts on Monday (ISO 8601).
  return WEEKDAYS[(utcMidnight.getUTCDay() + 6) % 7] as Weekday;
}
