// When a cluster's certificate check runs: the interval follows the server certificates'
// lifetime, and the phase keeps it out of step with the cluster's whole-hour snapshot schedule.

/**
 * Seconds between certificate checks: a twelfth of the lifetime (at least 10 s). A certificate
 * becomes due at two thirds of its life, so it is replaced within a sixth of its lifetime even
 * when a check finds another operation holding the lock for up to a twelfth of it.
 */
export function certificateCheckInterval(ttlHours: number): number {
  return Math.max(10, Math.floor((ttlHours * 3600) / 12));
}

/** Half an hour for intervals above that (snapshot intervals are whole hours), else half the interval. */
export function certificateSchedulePhase(intervalSeconds: number): number {
  return intervalSeconds > 1800 ? 1800 : Math.floor(intervalSeconds / 2);
}

/** The id of a cluster's certificate schedule. */
export function certificateScheduleId(resourceKey: string): string {
  return `certificates/${resourceKey}`;
}
