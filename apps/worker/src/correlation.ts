// The activity side of the correlation id (workflows/correlation.ts puts it in the headers of
// every activity a workflow schedules): each of the activity's log lines carries it, the SDK's
// own ("Activity completed", "Activity failed") and the activity context logger's.
import { defaultPayloadConverter, type Headers } from '@temporalio/common';
import type { ActivityInterceptorsFactory, WorkerOptions } from '@temporalio/worker';
import { fileURLToPath } from 'node:url';
import { CORRELATION_HEADER } from '../../../contract/temporal.js';

/** The correlation id in an activity's headers; undefined when absent or not a string. */
export function correlationIdFromHeaders(headers: Headers): string | undefined {
  const payload = headers[CORRELATION_HEADER];
  if (!payload) return undefined;
  try {
    const value: unknown = defaultPayloadConverter.fromPayload(payload);
    return typeof value === 'string' && value ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Adds `correlationId` to the activity's log attributes once its headers have been read. */
export const correlationActivityInterceptor: ActivityInterceptorsFactory = () => {
  let correlationId: string | undefined;
  return {
    inbound: {
      execute(input, next) {
        correlationId = correlationIdFromHeaders(input.headers);
        return next(input);
      },
    },
    outbound: {
      getLogAttributes: (attributes, next) => next(correlationId ? { ...attributes, correlationId } : attributes),
    },
  };
};

/** workflows/correlation.ts beside workflows/index: `.ts` in the source tree (tsx), `.js` in the build, like this module. */
const WORKFLOW_MODULE = fileURLToPath(
  new URL(`../../../workflows/correlation${import.meta.url.slice(import.meta.url.lastIndexOf('.'))}`, import.meta.url),
);

/** A worker's interceptors with the correlation id's added first (so other interceptors' log lines carry it too). */
export function withCorrelationInterceptors(
  o: Pick<WorkerOptions, 'interceptors' | 'sinks'>,
): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    ...o,
    interceptors: {
      ...o.interceptors,
      workflowModules: [WORKFLOW_MODULE, ...(o.interceptors?.workflowModules ?? [])],
      activity: [correlationActivityInterceptor, ...(o.interceptors?.activity ?? [])],
    },
  };
}
