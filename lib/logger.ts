// One log format for every process of ours (the API, the worker, host-manager): pino's JSON
// lines, one object per line, with the process's `service`, an ISO time and the level as a word.
// Errors are logged as their type and message (never the object: an HTTP client's error carries
// its request, headers and all), and the fields that can hold a credential are redacted
// wherever a caller puts them.
import { pino, type DestinationStream, type Logger } from 'pino';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Names of fields that can hold a credential: redacted at the top of a line and one level down. */
const SECRET_FIELDS = [
  'authorization',
  'cookie',
  'password',
  'secret',
  'token',
  'accessToken',
  'rootToken',
  'managementToken',
  'clientSecret',
  'accountKey',
  'privateKey',
  'gossipKey',
  'sasToken',
  'x-consul-token',
  'x-vault-token',
];

/** Paths pino censors (its redaction paths: a `*` is one level of any key). */
export const REDACTED_PATHS: string[] = [
  ...SECRET_FIELDS.flatMap((f) => [`["${f}"]`, `*["${f}"]`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'request.headers.authorization',
  'headers.authorization',
  '*.headers.authorization',
  '*.headers["x-consul-token"]',
  '*.headers["x-vault-token"]',
];

const MAX_MESSAGE = 500;

/** What a log line says about an error: its type and the first line of its message, bounded; its cause likewise. */
export interface ErrorSummary {
  type: string;
  message: string;
  code?: string;
  cause?: ErrorSummary;
}

/**
 * An error as a log line carries it. The type is a Temporal failure's `type` (our error
 * vocabulary) or the error's name; nothing else of the object is kept.
 */
export function summarizeError(err: unknown, depth = 0): ErrorSummary {
  if (!(err instanceof Error)) return { type: typeof err, message: bounded(String(err)) };
  const e = err as Error & { type?: unknown; code?: unknown };
  const summary: ErrorSummary = {
    type: typeof e.type === 'string' && e.type ? e.type : e.name,
    message: bounded(e.message),
  };
  if (typeof e.code === 'string' && e.code.length <= 64) summary.code = e.code;
  if (e.cause !== undefined && depth < 2) summary.cause = summarizeError(e.cause, depth + 1);
  return summary;
}

function bounded(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > MAX_MESSAGE ? `${line.slice(0, MAX_MESSAGE)}...` : line;
}

/** HCS_LOG_LEVEL (or another setting) as a level; a value that is not one is refused, naming the setting. */
export function parseLogLevel(value: string | undefined, setting = 'HCS_LOG_LEVEL', fallback: LogLevel = 'info'): LogLevel {
  if (value === undefined || value === '') return fallback;
  const level = value.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(level)) return level as LogLevel;
  throw new Error(`${setting} must be one of ${LOG_LEVELS.join(', ')}; it is "${value.slice(0, 32)}"`);
}

export interface ProcessLoggerOptions {
  /** Which process writes the line: api, worker, host-manager, ... */
  service: string;
  level: LogLevel;
  /** Where lines go (default stdout); tests capture them. */
  destination?: DestinationStream;
}

/** The process's logger. */
export function createLogger(o: ProcessLoggerOptions): Logger {
  return pino(
    {
      level: o.level,
      base: { service: o.service, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: summarizeError, error: summarizeError },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    o.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
