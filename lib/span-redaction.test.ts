import { describe, expect, it } from 'vitest';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { RedactingSpanProcessor, redactQueryString, redactUrl } from './span-redaction.js';

describe('span redaction', () => {
  it('replaces every query value but the API version, and leaves URLs without a query alone', () => {
    expect(redactUrl('https://acct.blob.test/c/b?sv=2024&sig=s3cr3t%2B&api-version=2024-01-01')).toBe(
      'https://acct.blob.test/c/b?sv=REDACTED&sig=REDACTED&api-version=2024-01-01',
    );
    expect(redactUrl('/subscriptions/s/resourceGroups/g?API-Version=1&code=abc#frag')).toBe(
      '/subscriptions/s/resourceGroups/g?API-Version=1&code=REDACTED#frag',
    );
    expect(redactUrl('/healthz')).toBe('/healthz');
    expect(redactUrl('/a=b/c')).toBe('/a=b/c');
    expect(redactQueryString('token-as-the-whole-query')).toBe('REDACTED');
    expect(redactQueryString('')).toBe('');
  });

  it('rewrites the URL attributes of an ended span before the exporter sees it, and nothing else', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({ spanProcessors: [new RedactingSpanProcessor(new SimpleSpanProcessor(exporter))] });
    const span = provider.getTracer('t').startSpan('GET', { attributes: { 'http.url': 'https://h/p?sig=abc', 'http.method': 'GET' } });
    // Set during the span, after its start: covered too.
    span.setAttribute('http.target', '/p?sig=abc');
    span.setAttribute('url.query', 'sig=abc&api-version=2');
    span.end();
    await provider.forceFlush();
    const [exported] = exporter.getFinishedSpans();
    expect(exported?.attributes).toEqual({
      'http.url': 'https://h/p?sig=REDACTED',
      'http.target': '/p?sig=REDACTED',
      'url.query': 'sig=REDACTED&api-version=2',
      'http.method': 'GET',
    });
    await provider.shutdown();
  });
});
