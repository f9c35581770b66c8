// Workflow interceptors (bundled into the sandbox through the worker's workflowModules): every
// workflow has a correlation id, and it travels with each activity it schedules, so the
// activity's log lines carry the id an ARM support ticket quotes.
//
// The id is the workflow's CorrelationId search attribute: operations are started with the
// request's x-ms-correlation-request-id (contract/temporal.ts operationSearchAttributes). A
// workflow started without one (a schedule's firing) takes its own workflow id, which is unique
// per firing and is also the correlation id of the operation the firing begins.
import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import {
  patched,
  upsertSearchAttributes,
  workflowInfo,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
  type WorkflowOutboundCallsInterceptor,
} from '@temporalio/workflow';
import { CORRELATION_HEADER, SEARCH_ATTRIBUTE } from '../contract/temporal.js';

/** The workflow's correlation id, when it has one. */
export function currentCorrelationId(): string | undefined {
  const value = workflowInfo().typedSearchAttributes.get(SEARCH_ATTRIBUTE.correlationId);
  return typeof value === 'string' && value ? value : undefined;
}

/** The headers with the correlation id added (unchanged when the workflow has none). */
export function withCorrelationHeader(headers: Headers, correlationId: string | undefined): Headers {
  return correlationId ? { ...headers, [CORRELATION_HEADER]: defaultPayloadConverter.toPayload(correlationId) } : headers;
}

const inbound: WorkflowInboundCallsInterceptor = {
  async execute(input, next) {
    // Histories recorded before this change replay without the upsert (patched says no).
    if (!currentCorrelationId() && patched('correlation-id-search-attribute'))
      upsertSearchAttributes([{ key: SEARCH_ATTRIBUTE.correlationId, value: workflowInfo().workflowId }]);
    return next(input);
  },
};

const outbound: WorkflowOutboundCallsInterceptor = {
  scheduleActivity: (input, next) => next({ ...input, headers: withCorrelationHeader(input.headers, currentCorrelationId()) }),
  scheduleLocalActivity: (input, next) => next({ ...input, headers: withCorrelationHeader(input.headers, currentCorrelationId()) }),
  getLogAttributes(input, next) {
    const correlationId = currentCorrelationId();
    return next(correlationId ? { ...input, correlationId } : input);
  },
};

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [inbound], outbound: [outbound] });
