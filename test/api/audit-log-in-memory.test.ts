// The audit log through the API in-process (buildApi: REST by fastify's inject(), gRPC served on
// loopback with the same handlers; no Temporal) on an in-memory PGlite store with the workflow
// starter in memory, as in-memory-handlers.test.ts does: a PUT and refused requests (REST and
// gRPC) are recorded before the answer leaves, GETs are not, the query filters and pages on both
// transports, another tenant reads nothing of it, a bad $filter is a 400 that records nothing, and
// a request whose row cannot be written (the audit log refusing request rows) is answered 503
// AuditLogUnavailable (gRPC UNAVAILABLE). The same on the real stack, with the worker's operation
// state changes: audit-log.test.ts.
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type JsonValue } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ApiOptions } from '../../apps/api/src/api.js';
import { startGrpcServer, type RunningGrpcServer } from '../../apps/api/src/grpc/server.js';
import { AuditLogService } from '../../gen/hcs/consul/v1/audit_log_pb.js';
import { ClusterService } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { verifyAuditChain } from '../../store/audit-log.js';
import type { SqlDatabase } from '../../store/database.js';
import { IN_MEMORY_VERSION, inMemoryApi, type InMemoryApi } from '../support/in-memory-api.js';

const starter: ApiOptions['starter'] = {
  async start() {},
  async cancel() {},
  async find() {
    return 'running';
  },
  async ping() {},
  async close() {},
};
const API_VERSION = '2026-11-01';
const VERSION = IN_MEMORY_VERSION;
const [subA, subB] = [randomUUID(), randomUUID()];
let tokens: { a: string; b: string; readerA: string };
let memory: InMemoryApi<'tenant-a' | 'tenant-b' | 'reader-a'> | undefined;
let db: SqlDatabase;
let api: InMemoryApi['built']['rest'];
let grpcServer: RunningGrpcServer;
let grpcClient: Client;

beforeAll(async () => {
  memory = await inMemoryApi({
    subscriptions: [subA, subB],
    starter,
    tokens: [
      { name: 'tenant-a', role: 'operator', subscriptions: [subA] },
      { name: 'tenant-b', role: 'operator', subscriptions: [subB] },
      { name: 'reader-a', role: 'reader', subscriptions: [subA] },
    ],
  });
  tokens = { a: memory.tokens['tenant-a'], b: memory.tokens['tenant-b'], readerA: memory.tokens['reader-a'] };
  db = memory.db;
  const built = memory.built;
  api = built.rest;
  // The gRPC transport on loopback (plaintext is allowed there), with the same handlers, authenticator and audit recorder.
  grpcServer = await startGrpcServer({
    handlers: built.handlers,
    authenticate: built.authenticate,
    audit: built.audit,
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    port: 0,
  });
  grpcClient = new Client(grpcServer.address, credentials.createInsecure());
}, 120_000);
afterAll(async () => {
  grpcClient?.close();
  await grpcServer?.close();
  await memory?.close();
});

const path = (s: string, name: string) => `/subscriptions/${s}/resourceGroups/rg/providers/HCS.Consul/clusters/${name}`;
const audit = (s: string, query: Record<string, string> = {}) =>
  `/subscriptions/${s}/providers/HCS.Consul/auditLogs?${new URLSearchParams({ 'api-version': API_VERSION, ...query }).toString()}`;

async function call(
  method: 'GET' | 'PUT' | 'DELETE',
  url: string,
  token: string | null,
  payload?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await api.inject({
    method,
    url: url.includes('?') ? url : `${url}?api-version=${API_VERSION}`,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  return { status: res.statusCode, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined };
}

/** One unary gRPC call; the ARM error code from the error-body-json trailer. */
function grpcCall(method: DescMethod, request: Record<string, unknown>, token: string, correlationId?: string) {
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  if (correlationId) md.set('x-ms-correlation-request-id', correlationId);
  return new Promise<{ code: number; response?: Record<string, unknown>; errorCode?: string }>((resolve) =>
    grpcClient.makeUnaryRequest(
      `/${method.parent.typeName}/${method.name}`,
      (m: Record<string, unknown>) => Buffer.from(toBinary(method.input, fromJson(method.input, m as JsonValue))),
      (b: Buffer) => toJson(method.output, fromBinary(method.output, b)) as Record<string, unknown>,
      request,
      md,
      (err: ServiceError | null, response?: Record<string, unknown>) => {
        if (!err) return resolve({ code: 0, ...(response ? { response } : {}) });
        const body = err.metadata.get('error-body-json')[0];
        const parsed = typeof body === 'string' ? (JSON.parse(body) as { error?: { code?: string } }) : undefined;
        resolve({ code: err.code, ...(parsed?.error?.code ? { errorCode: parsed.error.code } : {}) });
      },
    ),
  );
}

const clusterA = path(subA, 'audited');
const correlationId = randomUUID();
let putRequestId = '';

it('records a PUT and a refused DELETE before answering, names the operation it began; GETs are not recorded', async () => {
  const put = await call(
    'PUT',
    clusterA,
    tokens.a,
    { location: 'westeurope', properties: { consulVersion: VERSION, network: { cidr: '10.9.0.0/16' } } },
    { 'x-ms-correlation-request-id': correlationId },
  );
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  putRequestId = String(put.headers['x-ms-request-id']);
  const refused = await call('DELETE', clusterA, tokens.readerA);
  expect(refused.status).toBe(403);
  expect((await call('GET', clusterA, tokens.readerA)).status).toBe(200);
  const rows = (await call('GET', audit(subA), tokens.readerA)).json.value;
  expect(rows).toEqual([
    expect.objectContaining({
      category: 'request',
      action: 'HCS.Consul/clusters/delete',
      outcome: '403',
      errorCode: 'AuthorizationFailed',
      caller: 'operator:reader-a',
      requestId: refused.headers['x-ms-request-id'],
    }),
    expect.objectContaining({
      category: 'request',
      action: 'HCS.Consul/clusters/write',
      outcome: '201',
      caller: 'operator:tenant-a',
      correlationId,
      requestId: putRequestId,
      resourceId: clusterA,
      clientAddress: '127.0.0.1',
    }),
    expect.objectContaining({
      category: 'operation',
      action: 'HCS.Consul/operations/create',
      outcome: 'Accepted',
      caller: 'operator:tenant-a',
      correlationId,
      resourceId: clusterA.toLowerCase(),
    }),
  ]);
  expect(await verifyAuditChain(db)).toMatchObject({ ok: true, rows: 3 });
});

it('filters and pages; tenant B reads nothing of A by path, $filter or forged $skipToken', async () => {
  const byCaller = (
    await call('GET', audit(subA, { $filter: "caller eq 'operator:tenant-a' and action eq 'HCS.Consul/clusters/write'" }), tokens.a)
  ).json;
  expect((byCaller.value as Array<{ requestId: string }>).map((r) => r.requestId)).toEqual([putRequestId]);
  const put = (byCaller.value as Array<{ eventTimestamp: string }>)[0]!;
  const at = (
    await call(
      'GET',
      audit(subA, { $filter: `eventTimestamp ge '${put.eventTimestamp}' and eventTimestamp le '${put.eventTimestamp}'` }),
      tokens.a,
    )
  ).json;
  expect((at.value as Array<{ requestId?: string }>).map((r) => r.requestId)).toContain(putRequestId);
  const first = (await call('GET', audit(subA, { $top: '2' }), tokens.a)).json;
  expect(first.value).toHaveLength(2);
  const next = new URL(first.nextLink as string);
  const second = (await call('GET', next.pathname + next.search, tokens.a)).json;
  expect(second.value).toHaveLength(1);
  expect(second.nextLink).toBeUndefined();

  expect((await call('GET', audit(subA), tokens.b)).status).toBe(404);
  expect((await call('GET', audit(subB, { $filter: `resourceId eq '${clusterA}'` }), tokens.b)).json.value).toEqual([]);
  const forged = Buffer.from(JSON.stringify(['auditLogs', '1000000'])).toString('base64url');
  expect((await call('GET', audit(subB, { $skipToken: forged }), tokens.b)).json.value).toEqual([]);
});

it("records a gRPC call - tenant B's refused delete of A's cluster, in A's log - and serves the query over gRPC", async () => {
  const correlation = randomUUID();
  const refused = await grpcCall(
    ClusterService.method.deleteCluster,
    { subscriptionId: subA, resourceGroup: 'rg', clusterName: 'audited' },
    tokens.b,
    correlation,
  );
  expect(refused.code).toBe(status.NOT_FOUND);
  const listed = await grpcCall(
    AuditLogService.method.listAuditLogs,
    { subscriptionId: subA, filter: "caller eq 'operator:tenant-b'" },
    tokens.a,
  );
  expect(listed.code).toBe(status.OK);
  expect(listed.response!.value).toEqual([
    expect.objectContaining({
      action: 'HCS.Consul/clusters/delete',
      outcome: '404',
      errorCode: 'ResourceNotFound',
      caller: 'operator:tenant-b',
      correlationId: correlation,
      resourceId: clusterA,
      clientAddress: '127.0.0.1',
    }),
  ]);
  expect((await grpcCall(AuditLogService.method.listAuditLogs, { subscriptionId: subA }, tokens.b)).code).toBe(status.NOT_FOUND);
  const bad = await grpcCall(AuditLogService.method.listAuditLogs, { subscriptionId: subA, filter: 'caller gt 1' }, tokens.a);
  expect(bad).toMatchObject({ code: status.INVALID_ARGUMENT, errorCode: 'InvalidFilter' });
});

it('answers a bad $filter with a 400 naming it, and records nothing', async () => {
  const before = (await verifyAuditChain(db)) as { rows: number };
  const r = await call('GET', audit(subA, { $filter: "resourceId ne 'x'" }), tokens.a);
  expect(r.status).toBe(400);
  expect(r.json.error).toMatchObject({ code: 'InvalidFilter', target: '$filter' });
  expect(await verifyAuditChain(db)).toMatchObject({ rows: before.rows });
});

it('answers 503 AuditLogUnavailable when the row cannot be written, without the operation headers', async () => {
  await db.query(`ALTER TABLE audit_log_inbox ADD CONSTRAINT test_no_request_rows CHECK (category <> 'request') NOT VALID`);
  try {
    const r = await call('PUT', path(subA, 'unaudited'), tokens.a, {
      location: 'westeurope',
      properties: { consulVersion: VERSION, network: { cidr: '10.10.0.0/16' } },
    });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('AuditLogUnavailable');
    expect(r.headers['x-ms-error-code']).toBe('AuditLogUnavailable');
    expect(r.headers['azure-asyncoperation']).toBeUndefined();
    const g = await grpcCall(
      ClusterService.method.deleteCluster,
      { subscriptionId: subA, resourceGroup: 'rg', clusterName: 'nothing' },
      tokens.a,
    );
    expect(g).toMatchObject({ code: status.UNAVAILABLE, errorCode: 'AuditLogUnavailable' });
    // Reads are not recorded, so they are answered as usual.
    expect((await call('GET', path(subA, 'unaudited'), tokens.a)).status).toBe(200);
  } finally {
    await db.query(`ALTER TABLE audit_log_inbox DROP CONSTRAINT test_no_request_rows`);
  }
});
