// OpenTelemetry tracing of one control-plane process (hcs-api, hcs-worker): the Node SDK with
// HTTP, gRPC and pg instrumentation, spans exported over OTLP/gRPC to the configured collector.
// Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (lib/tracing-settings.ts).
//
// Instrumentations patch modules as they load, so a process starts tracing first and imports the
// rest of itself afterwards (apps/control-plane/src/*-main.ts). CommonJS packages (pg, grpc-js,
// fastify's http) are patched through require hooks; ES modules (ours importing node:http and
// node:https) through import-in-the-middle's loader hook, registered here.
//
// No secrets in spans: pg statements are recorded without their parameter values
// (enhancedDatabaseReporting off), no HTTP header or gRPC metadata is recorded, and query strings
// are redacted before export (lib/span-redaction.ts).
import { register } from 'node:module';
import type { IncomingMessage } from 'node:http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { RedactingSpanProcessor } from './span-redaction.js';
import type { TracingSettings } from './tracing-settings.js';

/** The tracing of this process, once started. */
export interface ProcessTracing {
  serviceName: string;
  /** Where every span of the process goes (workflow spans reach it through the worker's sink). */
  spanProcessor: SpanProcessor;
  resource: Resource;
  /** Exports what is pending and stops. */
  shutdown(): Promise<void>;
}

/** Probes and scrapes: answered all the time, worth no span. */
const UNTRACED_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

let current: ProcessTracing | undefined;

/** This process's tracing, when it was started (the worker adds Temporal's interceptors then). */
export function activeTracing(): ProcessTracing | undefined {
  return current;
}

/**
 * Starts tracing as `serviceName` when `settings` name an endpoint; does nothing otherwise.
 * Call it before importing what it instruments.
 */
export function startTracing(serviceName: string, settings: TracingSettings): ProcessTracing | undefined {
  if (!settings.endpoint) return undefined;
  if (current) throw new Error(`tracing already started in this process as ${current.serviceName}`);
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const resource = new Resource({ [ATTR_SERVICE_NAME]: serviceName });
  const spanProcessor = new RedactingSpanProcessor(
    new BatchSpanProcessor(new OTLPTraceExporter({ url: settings.endpoint }), { scheduledDelayMillis: 1_000 }),
  );
  const sdk = new NodeSDK({
    resource,
    spanProcessors: [spanProcessor],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req: IncomingMessage) => UNTRACED_PATHS.has((req.url ?? '').split('?')[0] ?? ''),
        // Calls made outside any request or activity (background polling) are noise.
        requireParentforOutgoingSpans: true,
      }),
      new GrpcInstrumentation(),
      new PgInstrumentation({ enhancedDatabaseReporting: false, requireParentSpan: true }),
    ],
  });
  sdk.start();
  const tracing: ProcessTracing = {
    serviceName,
    spanProcessor,
    resource,
    async shutdown() {
      if (current === tracing) current = undefined;
      await sdk.shutdown();
    },
  };
  current = tracing;
  return tracing;
}
