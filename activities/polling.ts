// Long-running activity steps: heartbeating while quiet work runs, and polling a condition until
// it holds or its time is up (the health, upgrade and federation gates); the worker's liveness
// heartbeat for every other activity task.
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** A health gate that runs out of time this many times fails its operation (workflows/lifecycle.ts `gate`). */
export const GATE_TIMEOUT_ATTEMPTS = 3;

/** How long a gate polls (one attempt) and how often. */
export interface GateTiming {
  /** How long the health gate waits for a cluster before giving up (one attempt). */
  healthTimeoutMs: number;
  healthPollMs?: number;
}

/**
 * How often a long activity heartbeats while it works. Its heartbeat timeout (workflows/lifecycle.ts
 * HEARTBEAT_TIMEOUT) is a few of these: a worker that dies is noticed that soon, and its
 * activity is retried on another worker (the SDK sends at most one heartbeat per 80% of the timeout).
 */
export const HEARTBEAT_EVERY_MS = 2_000;

/** Activities heartbeating with details of their own (whileHeartbeating), by how many calls. */
const heartbeatingItself = new WeakMap<Context, number>();

/**
 * Heartbeats every HEARTBEAT_EVERY_MS while `fn` runs, so a worker that dies is noticed within the
 * heartbeat timeout even when the work itself is quiet (an ACME order, terraform waiting, a slow
 * poll). `details` gives what each heartbeat carries (the last problem a gate saw, say).
 */
export async function whileHeartbeating<T>(fn: () => Promise<T>, details?: () => unknown): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(details?.()), HEARTBEAT_EVERY_MS);
  heartbeatingItself.set(ctx, (heartbeatingItself.get(ctx) ?? 0) + 1);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    heartbeatingItself.set(ctx, heartbeatingItself.get(ctx)! - 1);
  }
}

/**
 * The worker's liveness heartbeat (an activity interceptor): every activity task with a heartbeat
 * timeout heartbeats every HEARTBEAT_EVERY_MS while it runs - quick calls too, which never do
 * themselves - so the one a worker was running when it died runs again after the heartbeat
 * timeout rather than its whole start-to-close timeout. An activity inside whileHeartbeating
 * keeps its own heartbeats (they carry details); a local activity has none.
 */
export const livenessHeartbeatInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      if (ctx.info.isLocal || !ctx.info.heartbeatTimeoutMs) return next(input);
      const timer = setInterval(() => {
        if (!heartbeatingItself.get(ctx)) ctx.heartbeat();
      }, HEARTBEAT_EVERY_MS);
      try {
        return await next(input);
      } finally {
        clearInterval(timer);
      }
    },
  },
});

/**
 * Polls `attempt` (heartbeating what is still wrong) until it is done, or fails with the last
 * problem once the health timeout has passed. The gates' retry policy allows several attempts
 * so that a dependency outage (Vault, the store, Blob) when an attempt starts is waited out; a
 * gate that has run out of time on its GATE_TIMEOUT_ATTEMPTS-th attempt or later is final.
 */
export async function pollUntil<T>(
  timing: GateTiming,
  failure: (problem: string) => ApplicationFailure,
  attempt: () => Promise<{ done: T } | { problem: string }>,
): Promise<T> {
  const deadline = Date.now() + timing.healthTimeoutMs;
  let last: { problem: string } | undefined;
  // Heartbeats go on while an attempt itself is slow (a server that does not answer).
  return whileHeartbeating(
    async () => {
      for (;;) {
        const r = await attempt();
        if ('done' in r) return r.done;
        last = { problem: r.problem };
        Context.current().heartbeat(last);
        if (Date.now() > deadline) {
          const f = failure(r.problem);
          if (Context.current().info.attempt < GATE_TIMEOUT_ATTEMPTS) throw f;
          throw ApplicationFailure.create({ message: f.message, type: f.type ?? undefined, nonRetryable: true });
        }
        await Context.current().sleep(timing.healthPollMs ?? 1_000);
      }
    },
    () => last,
  );
}
