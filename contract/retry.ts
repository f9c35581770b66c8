// How every heartbeating activity is retried (workflows/lifecycle.ts quick, infra, gate,
// schedules; the snapshot, upgrade, server-maintenance and certificate proxies): two causes, two
// schedules. Pure data, imported by workflow code (the policies) and by the worker
// (activities/retry-delay.ts).
//
// - A worker lost in the middle of an activity (SIGKILL, a node gone) is noticed when the
//   activity's heartbeat stops; waiting longer after that fixes nothing, so the next attempt
//   starts LOST_WORKER_RETRY_MS later whatever its attempt number (a constant retry policy).
// - A failure the activity raises itself (a dependency down, a gate out of time) is waited out
//   with exponential backoff: the worker sets each failure's next retry delay from
//   FAILURE_BACKOFF and the attempt number, which Temporal uses in place of the policy's interval.
import type { RetryPolicy } from '@temporalio/common';
import { NON_RETRYABLE_ERRORS } from './errors.js';

/** A failure's wait before the next attempt: 2, 4, 8, 16, 32, 60, 60 ... s. */
export const FAILURE_BACKOFF = { initialMs: 2_000, coefficient: 2, maximumMs: 60_000 } as const;

/** The wait after a lost worker's heartbeat timeout, on every attempt. */
export const LOST_WORKER_RETRY_MS = 1_000;

/** The wait before the attempt after `attempt` (1 = the first) failed. */
export function failureRetryDelayMs(attempt: number): number {
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  return Math.min(FAILURE_BACKOFF.maximumMs, FAILURE_BACKOFF.initialMs * FAILURE_BACKOFF.coefficient ** exponent);
}

/**
 * The retry policy of a heartbeating activity: constant (a time-out is retried after
 * LOST_WORKER_RETRY_MS); its own failures get FAILURE_BACKOFF from the worker's interceptor,
 * which recognises this policy by its constant backoff (isFailureBackoffPolicy).
 */
export function heartbeatingRetry(maximumAttempts: number): RetryPolicy {
  return {
    initialInterval: LOST_WORKER_RETRY_MS,
    backoffCoefficient: 1,
    maximumInterval: LOST_WORKER_RETRY_MS,
    maximumAttempts,
    nonRetryableErrorTypes: NON_RETRYABLE_ERRORS,
  };
}

/** Whether an activity's retry policy leaves its failures' backoff to the worker. */
export function isFailureBackoffPolicy(policy: RetryPolicy | undefined): boolean {
  return policy?.backoffCoefficient === 1;
}
