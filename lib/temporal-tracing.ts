// Temporal's OpenTelemetry interceptors, so one trace runs from the API request through the
// workflow to each activity: the client's interceptor puts the caller's span context in the
// workflow's headers (StartWorkflow span); the workflow interceptors run in the workflow sandbox
// (RunWorkflow, StartActivity spans), their spans leaving it through a sink into this process's
// span processor; the activity interceptor continues the trace in the activity (RunActivity
// span), where the HTTP, gRPC and pg spans of the activity's work hang below it.
import { createRequire } from 'node:module';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import type { ClientInterceptors } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { activeTracing } from './tracing.js';

/**
 * The client interceptors of a client that starts workflows. Always on: without tracing the
 * global tracer is a no-op and nothing is added to the headers.
 */
export function workflowClientInterceptors(): ClientInterceptors {
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor()] };
}

/** A worker's interceptors and the workflow spans' sink when this process traces; nothing otherwise. */
export function workerTracingOptions(): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  const tracing = activeTracing();
  if (!tracing) return {};
  return {
    interceptors: {
      // Bundled into the workflow sandbox with our workflows (deterministic: Temporal's own code).
      workflowModules: [createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
    },
    sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) },
  };
}
