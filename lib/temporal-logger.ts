// The Temporal SDK's logger (the Runtime's: the SDK's own lines, the workflow and activity
// context loggers and, forwarded, the Rust core's) writing through the process's pino logger, so
// HCS_LOG_LEVEL and our one JSON format reach them too.
import type { Logger as TemporalLogger, LogLevel as TemporalLevel, LogMetadata } from '@temporalio/common';
import type { Logger } from 'pino';

const PINO_METHOD = { TRACE: 'trace', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' } as const;

/** The Temporal level that lets through what the pino logger's level does (ERROR for error, fatal and silent). */
export function temporalLevelOf(pinoLevel: string): TemporalLevel {
  switch (pinoLevel) {
    case 'trace':
      return 'TRACE';
    case 'debug':
      return 'DEBUG';
    case 'info':
      return 'INFO';
    case 'warn':
      return 'WARN';
    default:
      return 'ERROR';
  }
}

/**
 * The metadata of a Temporal log line as pino fields: symbol keys (the SDK's timestamp) are left
 * out; `error` stays for the logger's error serializer (type and message only).
 */
export function logFields(meta: LogMetadata | undefined): Record<string, unknown> {
  if (!meta) return {};
  return Object.fromEntries(Object.entries(meta));
}

/** A Temporal Logger forwarding to pino; `level` is what the core's log filter is set to. */
export class PinoTemporalLogger implements TemporalLogger {
  readonly level: TemporalLevel;
  constructor(private readonly logger: Logger) {
    this.level = temporalLevelOf(logger.level);
  }
  log(level: TemporalLevel, message: string, meta?: LogMetadata): void {
    this.logger[PINO_METHOD[level]](logFields(meta), message);
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }
}
