// Readiness: whether this API replica can serve, i.e. its store and Temporal answer. /readyz
// answers from a fresh check; the gRPC health service follows a periodic one. Each probe has a
// short deadline, and a failure is reported by dependency and error code only (no message: a
// driver's message can name hosts, users or databases; the log line has the error's type and
// message for the SRE).
import type { Logger } from 'pino';

export const DEPENDENCIES = ['database', 'temporal'] as const;
export type Dependency = (typeof DEPENDENCIES)[number];

/** Resolves when the dependency answers; rejects otherwise. */
export type Probe = () => Promise<void>;

export type CheckResult = { status: 'ok' } | { status: 'failing'; reason: string };

export interface ReadinessReport {
  ready: boolean;
  checks: Record<Dependency, CheckResult>;
}

/** Why a probe failed, as a client may see it: a timeout, or the error's code (else its type). */
export function failureReason(err: unknown, timeoutMs: number): string {
  if (err instanceof ProbeTimeout) return `no answer within ${timeoutMs} ms`;
  const e = err as { code?: unknown; name?: unknown } | null;
  const code = typeof e?.code === 'string' || typeof e?.code === 'number' ? String(e.code) : undefined;
  const kind = code && /^[A-Za-z0-9_.-]{1,40}$/.test(code) ? code : typeof e?.name === 'string' ? e.name : 'error';
  return `unreachable (${kind})`;
}

class ProbeTimeout extends Error {
  override name = 'ProbeTimeout';
}

function withTimeout(probe: Probe, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout()), timeoutMs);
  });
  return Promise.race([probe(), timeout]).finally(() => clearTimeout(timer));
}

/** Runs every probe at once, each with its deadline. */
export async function checkReadiness(
  probes: Record<Dependency, Probe>,
  o: { timeoutMs?: number; logger?: Logger } = {},
): Promise<ReadinessReport> {
  const timeoutMs = o.timeoutMs ?? 2_000;
  const results = await Promise.all(
    DEPENDENCIES.map(async (d): Promise<[Dependency, CheckResult]> => {
      try {
        await withTimeout(probes[d], timeoutMs);
        return [d, { status: 'ok' }];
      } catch (err) {
        o.logger?.warn({ err, dependency: d }, 'readiness probe failed');
        return [d, { status: 'failing', reason: failureReason(err, timeoutMs) }];
      }
    }),
  );
  const checks = Object.fromEntries(results) as Record<Dependency, CheckResult>;
  return { ready: results.every(([, r]) => r.status === 'ok'), checks };
}

/**
 * Checks readiness every `intervalMs` and tells `onChange` when it flips (and once at the
 * start). Stopped by the returned function.
 */
export function watchReadiness(
  check: () => Promise<ReadinessReport>,
  onChange: (report: ReadinessReport) => void,
  intervalMs: number,
): () => void {
  let last: boolean | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const tick = async () => {
    const report = await check();
    if (stopped) return;
    if (report.ready !== last) onChange(report);
    last = report.ready;
    timer = setTimeout(() => void tick(), intervalMs);
    timer.unref();
  };
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
