// The tracing settings of a control-plane process, read before anything else loads (lib/tracing.ts
// must start before the modules it instruments). The schema is also part of the processes' full
// configuration (apps/control-plane/src/config.ts), so the setting is documented and checked with
// the others. The name is OpenTelemetry's standard one.
import { z } from 'zod';

export const tracingEnvSchema = z.object({
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .union([
      z.literal(''),
      z
        .string()
        .url()
        .refine((u) => /^https?:\/\//.test(u), { message: 'must be an http:// or https:// URL' }),
    ])
    .optional()
    .meta({
      description: "OTLP/gRPC endpoint of the trace collector (e.g. Jaeger's, `http://127.0.0.1:4317`); unset or empty: no tracing",
    }),
});

export interface TracingSettings {
  /** Where spans go over OTLP/gRPC; absent: no tracing. */
  endpoint?: string;
}

/** The tracing settings from the environment; a malformed endpoint throws an error naming the setting. */
export function readTracingSettings(env: NodeJS.ProcessEnv = process.env): TracingSettings {
  const parsed = tracingEnvSchema.safeParse({ OTEL_EXPORTER_OTLP_ENDPOINT: env.OTEL_EXPORTER_OTLP_ENDPOINT });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  // Empty counts as unset, as OpenTelemetry's SDKs read it.
  const endpoint = parsed.data.OTEL_EXPORTER_OTLP_ENDPOINT;
  return endpoint ? { endpoint } : {};
}
