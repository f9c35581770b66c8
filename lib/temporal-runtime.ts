// The process's one Temporal Runtime. Runtime.install is process-global and may run once, before
// any worker or native connection exists, so every process installs it here and nowhere else:
// its logger and, where the process exports them, the Temporal SDK's own metrics (the SDK core
// serves them in Prometheus' text format at `/metrics` on metricsBindAddress).
import { Runtime, type Logger } from '@temporalio/worker';

export interface TemporalRuntimeOptions {
  /** Receives the SDK's log lines (and the workflow and activity context loggers'). */
  logger?: Logger;
  /** `host:port` of the SDK core's Prometheus endpoint; no SDK metrics when absent. */
  metricsBindAddress?: string;
}

let metricsAddress: string | undefined;

/** Installs the runtime; throws (IllegalStateError) if this process has one already. */
export function installTemporalRuntime(o: TemporalRuntimeOptions = {}): Runtime {
  const runtime = Runtime.install({
    ...(o.logger ? { logger: o.logger } : {}),
    ...(o.metricsBindAddress
      ? {
          telemetryOptions: {
            // Prometheus' conventions: counters end in _total, durations are seconds and say so.
            metrics: {
              prometheus: { bindAddress: o.metricsBindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
            },
          },
        }
      : {}),
  });
  metricsAddress = o.metricsBindAddress;
  return runtime;
}

/** Where the installed runtime serves the SDK's metrics (undefined: not exported). */
export function temporalMetricsAddress(): string | undefined {
  return metricsAddress;
}
