// Long-running activity steps: heartbeating while quiet work runs, and polling a condition until
// it holds or its time is up (the health, upgrade and federation gates).
import { ApplicationFailure, Context } from '@temporalio/activity';

/** A health gate that runs out of time this many times fails its operation (workflows/lifecycle.ts `gate`). */
export const GATE_TIMEOUT_ATTEMPTS = 3;

/** How long a gate polls (one attempt) and how often. */
export interface GateTiming {
  /** How long the health gate waits for a cluster before giving up (one attempt). */
  healthTimeoutMs: number;
  healthPollMs?: number;
}

/**
 * Heartbeats every few seconds while `fn` runs, so a worker that dies is noticed within the
 * heartbeat timeout even when the work itself is quiet (an ACME order, terraform waiting).
 */
export async function whileHeartbeating<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

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
  for (;;) {
    const r = await attempt();
    if ('done' in r) return r.done;
    Context.current().heartbeat({ problem: r.problem });
    if (Date.now() > deadline) {
      const f = failure(r.problem);
      if (Context.current().info.attempt < GATE_TIMEOUT_ATTEMPTS) throw f;
      throw ApplicationFailure.create({ message: f.message, type: f.type ?? undefined, nonRetryable: true });
    }
    await Context.current().sleep(timing.healthPollMs ?? 1_000);
  }
}
