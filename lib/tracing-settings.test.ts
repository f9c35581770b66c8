import { describe, expect, it } from 'vitest';
import { readTracingSettings } from './tracing-settings.js';

describe('tracing settings', () => {
  it('turns tracing on only with an endpoint', () => {
    expect(readTracingSettings({})).toEqual({});
    expect(readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '' })).toEqual({});
    expect(readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317' })).toEqual({ endpoint: 'http://127.0.0.1:4317' });
  });

  it('refuses a malformed endpoint, naming the setting', () => {
    expect(() => readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: '127.0.0.1:4317' })).toThrow(
      /^invalid configuration: OTEL_EXPORTER_OTLP_ENDPOINT: /,
    );
    expect(() => readTracingSettings({ OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://collector:4317' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/,
    );
  });
});
