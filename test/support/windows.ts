// Maintenance windows as the tests ask for them (the API's maintenanceWindow shape, in UTC).

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;

/** The weekday's name of a moment, in UTC. */
export function utcWeekday(at: Date): string {
  return DAYS[at.getUTCDay()]!;
}

/**
 * A one-hour window on the hour, `hours` from now (default 3: it opens two to three hours from
 * now), so an upgrade asked for now stays Scheduled for the whole test.
 */
export function windowHoursAway(hours = 3): { days: string[]; startTime: string; durationHours: number; timeZone: string } {
  const opens = new Date(Date.now() + hours * 3_600_000);
  return { days: [utcWeekday(opens)], startTime: `${String(opens.getUTCHours()).padStart(2, '0')}:00`, durationHours: 1, timeZone: 'UTC' };
}
