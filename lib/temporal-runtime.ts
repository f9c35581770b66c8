// The process's one Temporal Runtime. Runtime.install is process-global and may run once, before
// any worker or native connection exists, so every process installs it here and nowhere else:
// its logger and, where the process exports them, the Temporal SDK's own metrics (the SDK core
// serves them in Prometheus' text format at `/metrics` on metricsBindAddress). With a logger, the
// Rust core's own lines are forwarded to it too (filtered at the logger's level), so one setting
// (HCS_LOG_LEVEL) and one format cover everything the SDK says.
import { Runtime, type Logger, type LogLevel, type TelemetryOptions } from '@temporalio/worker';
import { PinoTemporalLogger } from './temporal-logger.js';

export interface TemporalRuntimeOptions {
  /** Receives the SDK's log lines (and the workflow and activity context loggers'). */
  logger?: Logger;
  /** `host:port` of the SDK core's Prometheus endpoint; no SDK metrics when absent. */
  metricsBindAddress?: string;
}

let metricsAddress: string | undefined;

/** Installs the runtime; throws (IllegalStateError) if this process has one already. */
export function installTemporalRuntime(o: TemporalRuntimeOptions = {}): Runtime {
  const telemetryOptions: TelemetryOptions = {
    ...(o.logger ? { logging: coreLogging(o.logger) } : {}),
    ...(o.metricsBindAddress
      ? {
          // Prometheus' conventions: counters end in _total, durations are seconds and say so.
          metrics: {
            prometheus: { bindAddress: o.metricsBindAddress, countersTotalSuffix: true, unitSuffix: true, useSecondsForDurations: true },
          },
        }
      : {}),
  };
  const runtime = Runtime.install({
    ...(o.logger ? { logger: o.logger } : {}),
    ...(Object.keys(telemetryOptions).length ? { telemetryOptions } : {}),
  });
  metricsAddress = o.metricsBindAddress;
  return runtime;
}

/** Where the installed runtime serves the SDK's metrics (undefined: not exported). */
export function temporalMetricsAddress(): string | undefined {
  return metricsAddress;
}

const SEVERITY: LogLevel[] = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'];

/**
 * The core's lines forwarded to the logger: the core's own at the logger's level (WARN for a
 * logger that does not say), its libraries' (gRPC, HTTP) at WARN or above.
 */
function coreLogging(logger: Logger): NonNullable<TelemetryOptions['logging']> {
  const core = logger instanceof PinoTemporalLogger ? logger.level : 'WARN';
  const other = SEVERITY[Math.max(SEVERITY.indexOf(core), SEVERITY.indexOf('WARN'))]!;
  return { filter: { core, other }, forward: {} };
}
