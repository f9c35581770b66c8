/** The one api-version of the customer-facing ARM API. */
export const API_VERSION = '2026-11-01';
/** ARM's subscription lifecycle calls use their own api-version. */
export const SUBSCRIPTION_API_VERSION = '2.0';
