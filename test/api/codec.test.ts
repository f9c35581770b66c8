// Nothing readable in Temporal: every payload of a cluster operation's history is encrypted, and
// the API's authenticated codec endpoint decrypts it for operators.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { CORRELATION_HEADER } from '../../contract/temporal.js';
import { httpCall } from '../../lib/http.js';
import { listOperations } from '../../store/operations.js';
import { useControlPlane } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const cp = useControlPlane(stack);

/** The header Temporal's OpenTelemetry interceptors carry trace context in (their TRACE_HEADER, not exported by the package). */
const TRACE_HEADER = '_tracer-data';

type WirePayload = { metadata?: Record<string, Uint8Array>; data?: Uint8Array };

/**
 * Every Payload in a history, except search attributes (indexed, never secret, never encrypted)
 * and two headers, collected into `headers` by name: the correlation id (like the CorrelationId
 * search attribute, ARM's correlation id travels in clear so a support ticket finds its
 * workflows) and OpenTelemetry's trace context (Temporal's tracing interceptors).
 */
function payloads(node: unknown, out: WirePayload[] = [], key = '', headers: Record<string, WirePayload[]> = {}): WirePayload[] {
  if ((key === CORRELATION_HEADER || key === TRACE_HEADER) && node && typeof node === 'object') {
    (headers[key] ??= []).push(node);
    return out;
  }
  if (key === 'searchAttributes' || key === 'indexedFields' || node === null || typeof node !== 'object') return out;
  if (node instanceof Uint8Array) return out;
  const o = node as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && 'data' in o) {
    out.push(o);
    return out;
  }
  for (const [k, v] of Object.entries(o)) payloads(v, out, k, headers);
  return out;
}

const b64 = (u: Uint8Array | undefined) => Buffer.from(u ?? new Uint8Array()).toString('base64');

it('keeps workflow histories encrypted and decodes them only for operators', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const path = `/subscriptions/${sub}/resourceGroups/rg/providers/HCS.Consul/clusters/sealed`;
  const auth = { authorization: `Bearer ${cp.tokens.admin}` };
  const put = await httpCall(`${cp.api.restUrl}${path}?api-version=2026-11-01`, {
    method: 'PUT',
    ca: cp.caCertPem,
    headers: auth,
    body: JSON.stringify({
      location: 'westeurope',
      properties: { consulVersion: stack.tools.consulVersions.at(-1), network: { cidr: '10.9.0.0/16' } },
    }),
  });
  expect(put.status).toBe(201);
  let op = (await listOperations(cp.db, path.toLowerCase()))[0]!;
  for (let i = 0; i < 100 && op.status !== 'Succeeded'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    op = (await listOperations(cp.db, path.toLowerCase()))[0]!;
  }
  expect(op.status).toBe('Succeeded');

  // A client WITHOUT the codec sees what Temporal stores.
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const history = await new Client({ connection, namespace: stack.temporal.namespace }).workflow.getHandle(op.workflowId).fetchHistory();
    const headers: Record<string, WirePayload[]> = {};
    const found = payloads(history.events, [], '', headers);
    const text = (h: WirePayload) => Buffer.from(h.data ?? new Uint8Array()).toString();
    // The correlation header holds the correlation id and nothing else; the trace header holds
    // W3C trace context (traceparent, tracestate) and nothing else.
    expect(headers[CORRELATION_HEADER]?.length).toBeGreaterThan(0);
    for (const h of headers[CORRELATION_HEADER] ?? []) expect(text(h)).toBe(JSON.stringify(op.correlationId));
    for (const h of headers[TRACE_HEADER] ?? []) {
      const context = JSON.parse(text(h)) as Record<string, unknown>;
      expect(Object.keys(context).filter((k) => k !== 'traceparent' && k !== 'tracestate')).toEqual([]);
      if (context.traceparent !== undefined) expect(context.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);
    }
    expect(found.length).toBeGreaterThanOrEqual(4); // workflow input, activity inputs, ...
    for (const p of found) {
      expect(new TextDecoder().decode(p.metadata?.encoding)).toBe('binary/encrypted');
      const raw = Buffer.from(p.data ?? new Uint8Array()).toString('latin1');
      expect(raw).not.toContain(sub);
      expect(raw).not.toContain(op.correlationId!);
    }
    const input = found[0]!;
    const body = JSON.stringify({
      payloads: [{ metadata: Object.fromEntries(Object.entries(input.metadata!).map(([k, v]) => [k, b64(v)])), data: b64(input.data) }],
    });
    const decoded = await httpCall(`${cp.api.restUrl}/codec/decode`, { method: 'POST', ca: cp.caCertPem, headers: auth, body });
    expect(decoded.status).toBe(200);
    const plain = JSON.parse(decoded.body) as { payloads: Array<{ metadata: { encoding: string }; data: string }> };
    expect(Buffer.from(plain.payloads[0]!.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(plain.payloads[0]!.data, 'base64').toString())).toMatchObject({
      resourceKey: path.toLowerCase(),
      kind: 'create',
    });
    expect((await httpCall(`${cp.api.restUrl}/codec/decode`, { method: 'POST', ca: cp.caCertPem, body })).status).toBe(401);
    const reader = await httpCall(`${cp.api.restUrl}/codec/decode`, {
      method: 'POST',
      ca: cp.caCertPem,
      headers: { authorization: `Bearer ${cp.tokens.reader}` },
      body,
    });
    expect(reader.status).toBe(403);
  } finally {
    await connection.close();
  }
});
