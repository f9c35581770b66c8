// Spans leave the process with no secret in them. The HTTP instrumentation records whole URLs
// (http.url, http.target, url.full, url.query), and a query string can carry one (a SAS
// token's `sig`, a code, a key): every query value is replaced, except those of parameters known
// to be harmless. Headers and bodies are never recorded (no headersToSpanAttributes), and the pg
// instrumentation records statements without their parameter values (lib/tracing.ts).
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Query parameters whose values stay readable in spans. */
const PUBLIC_QUERY_PARAMETERS = new Set(['api-version']);
/** Span attributes that hold a URL or a part of one with its query string. */
const URL_ATTRIBUTES = ['http.url', 'http.target', 'url.full', 'url.query'];
export const REDACTED = 'REDACTED';

/** A URL or path with every query parameter's value replaced, except the public ones. */
export function redactUrl(value: string): string {
  const [head, query] = splitOnce(value, '?');
  return query === undefined ? value : `${head}?${redactQueryString(query)}`;
}

/** A query string (without its `?`) with every parameter's value replaced, except the public ones. */
export function redactQueryString(query: string): string {
  const [params, fragment] = splitOnce(query, '#');
  const redacted = params
    .split('&')
    .map((pair) => {
      const [name, value] = splitOnce(pair, '=');
      if (PUBLIC_QUERY_PARAMETERS.has(decodeName(name).toLowerCase())) return pair;
      // A bare word can be a secret too (a token passed as the whole query).
      return value === undefined ? (pair ? REDACTED : pair) : `${name}=${REDACTED}`;
    })
    .join('&');
  return fragment === undefined ? redacted : `${redacted}#${fragment}`;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name);
  } catch {
    return name;
  }
}

/**
 * Redacts the URL attributes of every span as it ends, then hands it on to `next` (the exporter's
 * batch). At the end, not the start, so attributes set during the span are covered too; the ended
 * span's attribute record is rewritten in place (setAttribute is ignored once a span has ended).
 */
export class RedactingSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: Span, parentContext: Context): void {
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const attributes = span.attributes as Record<string, unknown>;
    for (const key of URL_ATTRIBUTES) {
      const value = attributes[key];
      if (typeof value === 'string') attributes[key] = key === 'url.query' ? redactQueryString(value) : redactUrl(value);
    }
    this.next.onEnd(span);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}
