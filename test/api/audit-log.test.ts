// Issue 16, item 3: the audit log on the real stack. A PUT, a refused request (REST and gRPC)
// and an operation's state changes are recorded with caller, application id, client address,
// correlation and request ids, resource, action and outcome; GETs are not. The query route
// filters by time, resource, caller and action and pages with $top and nextLink; a bad $filter or
// $skipToken is a precise 400 that changes nothing. Tenant B cannot read tenant A's rows: not by
// path, not by $filter on A's resource id, not with a forged $skipToken, not over gRPC. And when
// a request's row cannot be written the request is answered 503 AuditLogUnavailable (REST and
// gRPC), on a control plane with a database of its own whose audit log refuses request rows.
import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveDatabase } from '../../devstack/services/database.js';
import { AuditLogService } from '../../gen/hcs/consul/v1/audit_log_pb.js';
import { ClusterService } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { verifyAuditChain } from '../../store/audit-log.js';
import type { AuditLogView } from '../../apps/api/src/service/audit-logs.js';
import { GrpcConnection } from '../security/grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
const version = stack.tools.consulVersions[0]!;
let cp: ControlPlane;
let grpc: GrpcConnection;
let subA = '';
let subB = '';
let tokenA = '';
let tokenB = '';
let pathA = '';
const correlationId = randomUUID();
let putRequestId = '';

/** A row as the API answers it. */
type AuditRow = AuditLogView;

const auditPath = (sub: string, query = '') => `/subscriptions/${sub}/providers/HCS.Consul/auditLogs?${V}${query}`;
const filterQuery = (f: string) => `&$filter=${encodeURIComponent(f)}`;

/** Every row of the subscription the route returns, following nextLink (by its path) page by page. */
async function readAll(sub: string, token: string, query = ''): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  let next: string | undefined = auditPath(sub, query);
  for (let pages = 0; next; pages++) {
    expect(pages).toBeLessThan(200);
    const r = await rest(cp, 'GET', next, { token });
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    rows.push(...(r.json.value as AuditRow[]));
    next = r.json.nextLink ? new URL(r.json.nextLink as string).pathname + new URL(r.json.nextLink as string).search : undefined;
  }
  return rows;
}

/** Polls the subscription's rows until `done` holds (rows of operations come from the worker). */
async function until(sub: string, done: (rows: AuditRow[]) => boolean): Promise<AuditRow[]> {
  for (const end = Date.now() + 30_000; ;) {
    const rows = await readAll(sub, cp.tokens.reader);
    if (done(rows)) return rows;
    if (Date.now() > end) throw new Error(`the audit rows never got there: ${JSON.stringify(rows.slice(0, 5))}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  cp = await startControlPlane(stack);
  grpc = new GrpcConnection(cp);
  [subA, subB] = cp.scopedSubscriptionIds as [string, string];
  tokenA = cp.scopedToken(subA);
  tokenB = cp.scopedToken(subB);
  pathA = clusterPath(subA, 'rg-audit', 'audited');
  const put = await rest(cp, 'PUT', `${pathA}?${V}`, {
    token: tokenA,
    body: clusterBody(version, '10.71.0.0/16'),
    headers: { 'x-ms-correlation-request-id': correlationId },
  });
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  putRequestId = String(put.headers['x-ms-request-id']);
  await waitForState(cp, pathA, ['Succeeded']);
});
afterAll(async () => {
  grpc?.close();
  await cp?.close();
});

describe('recording', () => {
  it('records the PUT with the caller, client address, correlation and request ids, resource, action and outcome', async () => {
    const rows = await readAll(subA, tokenA, filterQuery(`action eq 'HCS.Consul/clusters/write'`));
    const put = rows.find((r) => r.requestId === putRequestId);
    expect(put).toEqual({
      id: `/subscriptions/${subA}/providers/HCS.Consul/auditLogs/${put!.sequence}`,
      name: put!.sequence,
      type: 'HCS.Consul/auditLogs',
      sequence: expect.stringMatching(/^\d+$/),
      eventTimestamp: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/),
      category: 'request',
      resourceId: pathA,
      action: 'HCS.Consul/clusters/write',
      outcome: '201',
      caller: `operator:scoped-${subA}`,
      clientAddress: expect.stringMatching(/127\.0\.0\.1/),
      correlationId,
      requestId: putRequestId,
    });
  });

  it("records the create operation's state changes, in order, naming the caller who started it", async () => {
    const rows = await until(subA, (rs) => rs.some((r) => r.category === 'operation' && r.outcome === 'Succeeded'));
    const ops = rows.filter((r) => r.category === 'operation' && r.resourceId === pathA.toLowerCase()).reverse();
    expect(ops.map((r) => r.outcome)[0]).toBe('Accepted');
    expect(ops.map((r) => r.outcome).at(-1)).toBe('Succeeded');
    for (const r of ops) {
      expect(r).toMatchObject({ action: 'HCS.Consul/operations/create', caller: `operator:scoped-${subA}`, correlationId });
      expect(r.operationId).toBe(ops[0]!.operationId);
    }
    const put = rows.find((r) => r.requestId === putRequestId)!;
    expect(Number(ops[0]!.sequence)).toBeLessThan(Number(put.sequence)); // the operation commits before the answer's row
  });

  it('records a refused request with its status and error code, the token subject and its application id; GETs are not recorded', async () => {
    const oid = randomUUID();
    const reader = await cp.mintJwt('user', { oid, azp: 'app-of-the-reader', roles: ['HCS.Reader'], hcs_subscriptions: [subA] });
    const refused = await rest(cp, 'DELETE', `${pathA}?${V}`, { token: reader });
    expect(refused.status).toBe(403);
    const get = await rest(cp, 'GET', `${pathA}?${V}`, { token: reader });
    expect(get.status).toBe(200);
    const rows = await readAll(subA, reader, filterQuery(`caller eq 'user:${oid}'`));
    expect(rows).toEqual([
      expect.objectContaining({
        action: 'HCS.Consul/clusters/delete',
        outcome: '403',
        errorCode: 'AuthorizationFailed',
        caller: `user:${oid}`,
        applicationId: 'app-of-the-reader',
        requestId: refused.headers['x-ms-request-id'],
        resourceId: pathA,
      }),
    ]);
    // Without credentials: recorded as anonymous, in the subscription the path names.
    const anonymous = await rest(cp, 'POST', `${pathA}/createSnapshot?${V}`, { token: null, body: {} });
    expect(anonymous.status).toBe(401);
    const rowsAnon = await readAll(subA, tokenA, filterQuery(`caller eq 'anonymous'`));
    expect(rowsAnon[0]).toMatchObject({
      action: 'HCS.Consul/clusters/createSnapshot/action',
      outcome: '401',
      errorCode: 'AuthenticationFailed',
      requestId: anonymous.headers['x-ms-request-id'],
    });
  });

  it("records a gRPC call, refused for tenant B on A's cluster, in A's log with B as the caller", async () => {
    const requestId = randomUUID();
    const a = await grpc.call(
      ClusterService.method.deleteCluster,
      { subscriptionId: subA, resourceGroup: 'rg-audit', clusterName: 'audited' },
      tokenB,
      10_000,
      { 'x-ms-correlation-request-id': requestId },
    );
    expect(a.code).toBe(status.NOT_FOUND);
    const rows = await readAll(subA, tokenA, filterQuery(`caller eq 'operator:scoped-${subB}'`));
    expect(rows[0]).toMatchObject({
      action: 'HCS.Consul/clusters/delete',
      outcome: '404',
      errorCode: 'ResourceNotFound',
      correlationId: requestId,
      resourceId: pathA,
      clientAddress: expect.stringMatching(/127\.0\.0\.1/),
    });
    // B's own log holds nothing of it.
    expect(await readAll(subB, tokenB, filterQuery(`resourceId eq '${pathA}'`))).toEqual([]);
  });

  it('keeps one verifiable chain over all of it', async () => {
    expect(await verifyAuditChain(cp.db)).toMatchObject({ ok: true });
  });
});

describe('the query', () => {
  it('filters by resource (any case), action, caller and time range, newest first', async () => {
    const all = await readAll(subA, tokenA);
    expect(all.length).toBeGreaterThan(5);
    const seqs = all.map((r) => Number(r.sequence));
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    const byResource = await readAll(subA, tokenA, filterQuery(`resourceId eq '${pathA.toUpperCase()}'`));
    expect(byResource.length).toBe(all.filter((r) => r.resourceId?.toLowerCase() === pathA.toLowerCase()).length);
    const deletes = await readAll(subA, tokenA, filterQuery(`action eq 'HCS.Consul/clusters/delete' and resourceId eq '${pathA}'`));
    expect(deletes.length).toBeGreaterThan(0);
    expect(deletes.every((r) => r.action === 'HCS.Consul/clusters/delete')).toBe(true);
    // A time range around the PUT's row only.
    const put = all.find((r) => r.requestId === putRequestId)!;
    const inRange = await readAll(
      subA,
      tokenA,
      filterQuery(
        `eventTimestamp ge '${put.eventTimestamp}' and eventTimestamp le '${put.eventTimestamp}' and caller eq 'operator:scoped-${subA}'`,
      ),
    );
    expect(inRange.map((r) => r.requestId)).toContain(putRequestId);
    expect(inRange.every((r) => r.eventTimestamp.slice(0, 23) === put.eventTimestamp.slice(0, 23))).toBe(true);
    const before = await readAll(subA, tokenA, filterQuery(`eventTimestamp le '2020-01-01T00:00:00Z'`));
    expect(before).toEqual([]);
  });

  it('pages with $top and nextLink (filter kept), each row once', async () => {
    const all = await readAll(subA, tokenA);
    const paged = await readAll(subA, tokenA, '&$top=2');
    expect(paged.map((r) => r.sequence)).toEqual(all.map((r) => r.sequence));
    const first = await rest(cp, 'GET', auditPath(subA, `&$top=1${filterQuery(`resourceId eq '${pathA}'`)}`), { token: tokenA });
    expect(first.json.value).toHaveLength(1);
    expect(new URL(first.json.nextLink).searchParams.get('$filter')).toBe(`resourceId eq '${pathA}'`);
  });

  it("is readable by the subscription's readers, over gRPC too", async () => {
    const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [subA] });
    expect((await rest(cp, 'GET', auditPath(subA), { token: reader })).status).toBe(200);
    const a = await grpc.call(
      AuditLogService.method.listAuditLogs,
      { subscriptionId: subA, filter: `resourceId eq '${pathA}'`, top: 3 },
      reader,
    );
    expect(a.code).toBe(status.OK);
    expect((a.response!.value as unknown[]).length).toBe(3);
    expect(a.response!.nextLink).toBeTruthy();
  });

  it('answers a bad $filter, $top or $skipToken with a precise 400 that records and changes nothing', async () => {
    const count = async () =>
      Number(
        // Chained or still in the inbox (one statement: one snapshot of both).
        (
          await cp.db.query<{ n: string }>(
            `SELECT (SELECT count(*) FROM audit_log WHERE subscription_id = $1) + (SELECT count(*) FROM audit_log_inbox WHERE subscription_id = $1) AS n`,
            [subA.toLowerCase()],
          )
        ).rows[0]!.n,
      );
    const before = await count();
    for (const [query, code, says] of [
      [filterQuery(`resourceId ne 'x'`), 'InvalidFilter', 'cannot be compared with "ne"'],
      [filterQuery(`caller eq 'a' or caller eq 'b'`), 'InvalidFilter', "expected 'and'"],
      [filterQuery(`eventTimestamp ge 'last week'`), 'InvalidFilter', 'not an RFC 3339 time'],
      [filterQuery(`subscriptionId eq '${subB}'`), 'InvalidFilter', 'is not a field'],
      ['&$top=0', 'InvalidParameter', '$top must be an integer'],
      ['&$skipToken=not-a-token', 'InvalidParameter', '$skipToken is not a continuation token'],
    ] as const) {
      const r = await rest(cp, 'GET', auditPath(subA, query), { token: tokenA });
      expect(r.status, query).toBe(400);
      expect(r.json.error.code).toBe(code);
      expect(r.json.error.message).toContain(says);
    }
    expect(await count()).toBe(before);
  });
});

describe('another tenant', () => {
  it("cannot read A's log by path: 404 as for a subscription that does not exist, REST and gRPC", async () => {
    const real = await rest(cp, 'GET', auditPath(subA), { token: tokenB });
    const ghost = await rest(cp, 'GET', auditPath(randomUUID()), { token: tokenB });
    expect(real.status).toBe(404);
    expect(ghost.status).toBe(404);
    expect(real.json.error.code).toBe(ghost.json.error.code);
    const outsider = await cp.mintJwt('user', { roles: ['HCS.Admin'], hcs_subscriptions: [subB] });
    expect((await rest(cp, 'GET', auditPath(subA), { token: outsider })).status).toBe(404);
    const a = await grpc.call(AuditLogService.method.listAuditLogs, { subscriptionId: subA }, tokenB);
    expect(a.code).toBe(status.NOT_FOUND);
    expect(a.response).toBeUndefined();
  });

  it("cannot reach A's rows through a $filter on A's resource id or caller in B's own log", async () => {
    expect(await readAll(subB, tokenB, filterQuery(`resourceId eq '${pathA}'`))).toEqual([]);
    expect(await readAll(subB, tokenB, filterQuery(`caller eq 'operator:scoped-${subA}'`))).toEqual([]);
    const a = await grpc.call(AuditLogService.method.listAuditLogs, { subscriptionId: subB, filter: `resourceId eq '${pathA}'` }, tokenB);
    expect(a.code).toBe(status.OK);
    expect(a.response!.value ?? []).toEqual([]);
  });

  it("cannot reach A's rows with a forged $skipToken: a token holds a position, B's log stays B's", async () => {
    // B has rows of its own: a PUT refused for a bad body.
    expect((await rest(cp, 'PUT', `${clusterPath(subB, 'rg', 'b1')}?${V}`, { token: tokenB, body: { location: 1 } })).status).toBe(400);
    const aRows = await readAll(subA, tokenA);
    const beyond = String(Number(aRows[0]!.sequence) + 1_000_000);
    for (const position of [beyond, aRows[0]!.sequence, aRows.at(-1)!.sequence]) {
      const token = Buffer.from(JSON.stringify(['auditLogs', position])).toString('base64url');
      const rows = await readAll(subB, tokenB, `&$skipToken=${token}`);
      expect(rows.length).toBeGreaterThanOrEqual(position === beyond ? 1 : 0);
      expect(rows.every((r) => r.resourceId === undefined || r.resourceId.toLowerCase().includes(subB.toLowerCase()))).toBe(true);
      expect(rows.some((r) => r.requestId === putRequestId)).toBe(false);
    }
    // A token of another list is refused, not read.
    const clusterToken = Buffer.from(JSON.stringify(['clusters', pathA.toLowerCase()])).toString('base64url');
    expect((await rest(cp, 'GET', auditPath(subB, `&$skipToken=${clusterToken}`), { token: tokenB })).status).toBe(400);
  });
});

describe('when the audit row cannot be written', () => {
  let own: ControlPlane;
  let drop: () => Promise<void> = async () => {};
  beforeAll(async () => {
    const resolved = await resolveDatabase({
      name: `hcs_audit_api_${randomUUID().replace(/-/g, '').slice(0, 12)}`,
      pgliteDir: mkdtempSync(join(tmpdir(), 'hcs-audit-api-')),
      prefer: stack.database.kind === 'postgres' ? 'auto' : 'pglite',
      ...(stack.database.kind === 'postgres'
        ? { serverUrls: [Object.assign(new URL(stack.database.url), { pathname: '/postgres' }).toString()] }
        : {}),
    });
    drop = resolved.drop;
    own = await startControlPlane({ ...stack, database: resolved.config });
  });
  afterAll(async () => {
    await own?.close();
    await drop();
  });

  it('a mutating request is answered 503 AuditLogUnavailable (REST and gRPC); once rows can be written it is recorded', async () => {
    const sub = own.scopedSubscriptionIds[0]!;
    const token = own.scopedToken(sub);
    const path = clusterPath(sub, 'rg', 'unaudited');
    // Request rows refused; operation rows still written.
    await own.db.query(`ALTER TABLE audit_log_inbox ADD CONSTRAINT test_no_request_rows CHECK (category <> 'request') NOT VALID`);
    const r = await rest(own, 'PUT', `${path}?${V}`, { token, body: clusterBody(version, '10.72.0.0/16') });
    expect(r.status).toBe(503);
    expect(r.json.error.code).toBe('AuditLogUnavailable');
    expect(r.headers['x-ms-error-code']).toBe('AuditLogUnavailable');
    expect(r.headers['azure-asyncoperation']).toBeUndefined();
    const g = new GrpcConnection(own);
    try {
      const a = await g.call(
        ClusterService.method.deleteCluster,
        { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'nothing' },
        token,
      );
      expect(a.code).toBe(status.UNAVAILABLE);
      expect(a.error?.code).toBe('AuditLogUnavailable');
      // A read is not recorded, so it is answered as usual.
      expect((await rest(own, 'GET', `${path}?${V}`, { token })).status).toBe(200);
    } finally {
      g.close();
    }
    await own.db.query(`ALTER TABLE audit_log_inbox DROP CONSTRAINT test_no_request_rows`);
    await waitForState(own, path, ['Succeeded']);
    const retry = await rest(own, 'PUT', `${path}?${V}`, { token, body: clusterBody(version, '10.72.0.0/16') });
    expect(retry.status).toBe(200);
    const rows = (await rest(own, 'GET', auditPath(sub), { token })).json.value as AuditRow[];
    expect(rows.filter((x) => x.category === 'request').map((x) => [x.requestId, x.outcome])).toEqual([
      [retry.headers['x-ms-request-id'], '200'],
    ]);
    expect(await verifyAuditChain(own.db)).toMatchObject({ ok: true });
  });
});
