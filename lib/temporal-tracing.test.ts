import { existsSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { workerTracingOptions, workflowClientInterceptors } from './temporal-tracing.js';
import { activeTracing, startTracing } from './tracing.js';

describe('tracing of a process and its Temporal worker', () => {
  afterAll(async () => {
    await activeTracing()?.shutdown();
  });

  it('adds nothing to a worker while the process does not trace', () => {
    expect(startTracing('hcs-test', {})).toBeUndefined();
    expect(activeTracing()).toBeUndefined();
    expect(workerTracingOptions()).toEqual({});
    // The client interceptor is always there: a no-op until a tracer provider is registered.
    expect(workflowClientInterceptors().workflow).toHaveLength(1);
  });

  it('gives the worker the workflow interceptor module, the activity interceptors and the span sink once it traces', async () => {
    // No collector listens there; nothing is exported in this test.
    const tracing = startTracing('hcs-test', { endpoint: 'http://127.0.0.1:9' });
    expect(tracing?.serviceName).toBe('hcs-test');
    expect(() => startTracing('hcs-other', { endpoint: 'http://127.0.0.1:9' })).toThrow(
      'tracing already started in this process as hcs-test',
    );
    const o = workerTracingOptions();
    const [module] = o.interceptors?.workflowModules ?? [];
    expect(module && existsSync(module)).toBe(true);
    const [activity] = o.interceptors?.activity ?? [];
    const made = activity?.({} as never);
    expect(made?.inbound?.constructor.name).toBe('OpenTelemetryActivityInboundInterceptor');
    expect(made?.outbound?.constructor.name).toBe('OpenTelemetryActivityOutboundInterceptor');
    expect(o.sinks?.exporter).toBeDefined();
    await tracing?.shutdown();
    expect(activeTracing()).toBeUndefined();
    expect(workerTracingOptions()).toEqual({});
  });
});
