// The worker's side of contract/retry.ts: an activity interceptor that gives a heartbeating
// activity's own failures their exponential backoff (Temporal's next retry delay), while the
// activity's constant retry policy keeps a lost worker's retry at LOST_WORKER_RETRY_MS.
import { ApplicationFailure, TemporalFailure } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { failureRetryDelayMs, isFailureBackoffPolicy } from '../contract/retry.js';

/**
 * `err` as the failure Temporal records, with `delayMs` as its next retry delay. A non-retryable
 * failure, one with a delay of its own and Temporal's own failures (a cancellation) are left as
 * they are; any other error becomes the ApplicationFailure the SDK would have made of it (same
 * message, type, cause and stack) plus the delay.
 */
export function withRetryDelay(err: unknown, delayMs: number): unknown {
  if (err instanceof ApplicationFailure) {
    if (err.nonRetryable || err.nextRetryDelay != null) return err;
    const failure = ApplicationFailure.create({
      message: err.message,
      ...(err.type != null ? { type: err.type } : {}),
      ...(err.details != null ? { details: [...err.details] } : {}),
      ...(err.cause ? { cause: err.cause } : {}),
      ...(err.category != null ? { category: err.category } : {}),
      nextRetryDelay: delayMs,
    });
    failure.stack = err.stack ?? '';
    return failure;
  }
  if (err instanceof TemporalFailure || !(err instanceof Error)) return err;
  const failure = ApplicationFailure.create({
    message: err.message,
    type: err.constructor?.name ?? err.name,
    ...(err.cause instanceof Error ? { cause: err.cause } : {}),
    nextRetryDelay: delayMs,
  });
  failure.stack = err.stack ?? '';
  return failure;
}

/**
 * For every activity task whose retry policy is a heartbeating one (contract/retry.ts
 * heartbeatingRetry): a failure it raises waits failureRetryDelayMs(attempt) before the next
 * attempt - 2, 4, 8 ... 60 s - as a fixed exponential policy would, while a time-out (its worker
 * lost) is retried after the policy's constant second.
 */
export const failureBackoffInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.isLocal || !isFailureBackoffPolicy(ctx.info.retryPolicy)) return next(input);
      try {
        return await next(input);
      } catch (err) {
        throw withRetryDelay(err, failureRetryDelayMs(ctx.info.attempt));
      }
    },
  },
});
