// What the control plane reports to the Marketplace Metering Service: server hours of each
// cluster per clock hour (UTC), under a plan and a dimension of that plan. The plan of an hour
// follows the servers the cluster ran then, as getBillingInfo names a cluster's plan: one server
// is DEVELOPMENT, more are STANDARD. An hour in which the server count crossed between the two
// gives an event for each plan, with the server hours of each part.

export const METERING_PLANS = ['development', 'standard'] as const;
export type MeteringPlan = (typeof METERING_PLANS)[number];

/** The dimension a plan's server hours are reported under (the offer's custom meter). */
export const DIMENSION_SUFFIX = '-server-hours';
export const dimensionOf = (plan: MeteringPlan): string => `${plan}${DIMENSION_SUFFIX}`;

/** The plan of a period in which the cluster ran `serverCount` servers. */
export const planOf = (serverCount: number): MeteringPlan => (serverCount === 1 ? 'development' : 'standard');

/** Hours are reported with the Marketplace's precision (six decimals); reports round alike. */
export const roundQuantity = (q: number): number => Math.round(q * 1e6) / 1e6;

/** The Marketplace takes usage for the past 24 hours only. */
export const METERING_WINDOW_MS = 24 * 3_600_000;
/**
 * An hour is sent only while its start is at least this much younger than the 24-hour limit, so
 * an event does not expire in flight; older ones are recorded as expired instead.
 */
export const METERING_SEND_MARGIN_MS = 10 * 60_000;

export const HOUR_MS = 3_600_000;
export const startOfHour = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
