// One log format with correlation ids, on the real stack: a PUT carrying ARM's
// x-ms-correlation-request-id is found by that id on the API's request line, on the worker's
// activity lines (the Temporal SDK's own lines, through the runtime's logger) and, with a
// visibility query on the CorrelationId search attribute, in Temporal. No line holds the
// caller's bearer token.
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { captureLogLines } from '../support/log-capture.js';
import { useControlPlane, useTemporalClient } from '../support/control-plane-fixture.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';

const stack = inject('stack');
const logs = captureLogLines();
const cp = useControlPlane(stack, () => ({ logs: logs.destination }));
const temporal = useTemporalClient(stack);

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  for (const end = Date.now() + timeoutMs; ;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

it("carries ARM's correlation id from the API's request line to the worker's activity lines and the workflow's search attribute", async () => {
  const correlationId = `support-ticket-${randomUUID()}`;
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = clusterPath(sub, 'rg-logs', `logs-${randomUUID().slice(0, 8)}`);
  const put = await rest(cp, 'PUT', `${path}?${V}`, {
    body: clusterBody(stack.tools.consulVersions.at(-1)!, '10.91.0.0/16'),
    headers: { 'x-ms-correlation-request-id': correlationId },
  });
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  await waitForState(cp, path, ['Succeeded']);

  // The API's request line: one JSON object with the service, the request id and the correlation id.
  const request = logs.lines.find((l) => l.msg === 'request' && l.method === 'PUT' && l.correlationId === correlationId);
  expect(request).toMatchObject({ service: 'api', level: 'info', status: 201, requestId: put.headers['x-ms-request-id'] });

  // The worker's activity lines (the SDK's "Activity completed", forwarded to pino) carry it too.
  const activityLines = await until('the worker to log the activities with the correlation id', () => {
    const found = logs.lines.filter((l) => l.service === 'worker' && l.activityType && l.correlationId === correlationId);
    return found.length >= 2 ? found : undefined;
  });
  expect(activityLines.map((l) => l.msg)).toContain('Activity completed');
  expect(new Set(activityLines.map((l) => l.activityType)).size).toBeGreaterThanOrEqual(2);

  // An ARM support ticket quotes the id: one visibility query finds the operation's workflow.
  const found = await until('the visibility query to find the workflow', async () => {
    // The raw visibility call: the memo is encrypted, and this client has no codec (nor needs one).
    const { executions } = await temporal.workflowService.listWorkflowExecutions({
      namespace: stack.temporal.namespace,
      query: `CorrelationId = "${correlationId}"`,
    });
    const ids = executions.map((e) => e.execution?.workflowId ?? '');
    return ids.length ? ids : undefined;
  });
  expect(found).toHaveLength(1);
  expect(found[0]!.startsWith(`cluster${path.toLowerCase()}/create/`), found[0]).toBe(true);

  // No line carries the caller's bearer token, the ARM JWT or an operator token of this control plane.
  const text = logs.text();
  for (const token of Object.values(cp.tokens)) expect(text).not.toContain(token);
  expect(text).not.toMatch(/Bearer\s+\S/);
  expect(text).not.toContain(cp.payloadKeys.split(':')[1]!);
});

it('every line is one JSON object with a service, an ISO time and a level', () => {
  expect(logs.lines.length).toBeGreaterThan(0);
  for (const l of logs.lines) {
    expect(['api', 'worker']).toContain(l.service);
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).toContain(l.level);
    expect(new Date(String(l.time)).toISOString()).toBe(l.time);
  }
});
