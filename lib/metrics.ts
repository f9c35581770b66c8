// The process's Prometheus metrics (prom-client): one registry per process, holding what the API
// and the worker count, so the embedded process (API and worker in one) counts each event once.
// Labels carry only bounded, tenant-free values - route templates, RPC names, status codes,
// operation kinds and statuses - never a subscription id, a cluster name or a raw URL, because
// SREs' dashboards and whoever may scrape must not learn tenants from them.
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { OperationRecord } from '../store/operations.js';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry, prefix: 'hcs_' });

/** The label a request that matched no route gets instead of its URL. */
export const UNMATCHED_ROUTE = 'unmatched';

export const httpRequestDuration = new Histogram({
  name: 'hcs_http_request_duration_seconds',
  help: 'REST requests by method, route template (never the URL) and status code.',
  labelNames: ['method', 'route', 'code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

export const grpcRequestDuration = new Histogram({
  name: 'hcs_grpc_request_duration_seconds',
  help: 'gRPC calls by full method name and status code name.',
  labelNames: ['method', 'code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [metricsRegistry],
});

export const operationsStarted = new Counter({
  name: 'hcs_operations_started_total',
  help: 'Operations recorded (begun) by kind, whoever began them (API, schedules, the fleet).',
  labelNames: ['kind'] as const,
  registers: [metricsRegistry],
});

export const operationsEnded = new Counter({
  name: 'hcs_operations_ended_total',
  help: 'Operations that ended, by kind and final status (Succeeded, Failed, Canceled).',
  labelNames: ['kind', 'status'] as const,
  registers: [metricsRegistry],
});

export const operationDuration = new Histogram({
  name: 'hcs_operation_duration_seconds',
  help: 'Time from an operation being recorded to its end, by kind and final status.',
  labelNames: ['kind', 'status'] as const,
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 86400],
  registers: [metricsRegistry],
});

/** An operation was recorded. */
export function countOperationStarted(kind: string): void {
  operationsStarted.inc({ kind });
}

/**
 * An operation ended: call with the record the ending update returned (only the update that
 * ended it returns one, so a retried activity counts nothing twice) once its transaction committed.
 */
export function countOperationEnded(op: Pick<OperationRecord, 'kind' | 'status' | 'startedAt' | 'endedAt'> | undefined): void {
  if (!op || !op.endedAt) return;
  operationsEnded.inc({ kind: op.kind, status: op.status });
  const seconds = (Date.parse(op.endedAt) - Date.parse(op.startedAt)) / 1000;
  if (Number.isFinite(seconds) && seconds >= 0) operationDuration.observe({ kind: op.kind, status: op.status }, seconds);
}

/** What a relay did with a claimed start request (lib/operation-relay.ts). */
export type OperationStartOutcome = 'started' | 'deferred' | 'refused' | 'dropped';

export const operationStarts = new Counter({
  name: 'hcs_operation_starts_total',
  help: 'Start requests the relay handled: started (Temporal has the workflow), deferred (Temporal failed; tried again), refused (the operation failed), dropped (the operation ended or was cancelled before its workflow started).',
  labelNames: ['outcome'] as const,
  registers: [metricsRegistry],
});

export const operationStartDelay = new Histogram({
  name: 'hcs_operation_start_delay_seconds',
  help: 'Time from an operation being recorded (its start request committed) to Temporal having its workflow.',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers: [metricsRegistry],
});

/** A relay handled a start request; `delaySeconds` for a started one (recorded to started). */
export function countOperationStart(outcome: OperationStartOutcome, delaySeconds?: number): void {
  operationStarts.inc({ outcome });
  if (delaySeconds !== undefined && Number.isFinite(delaySeconds) && delaySeconds >= 0) operationStartDelay.observe(delaySeconds);
}
