// Issue 16, item 4: operations and snapshots page like cluster lists ($top, $skipToken, nextLink)
// over REST and gRPC, newest first, with no row skipped or repeated even when rows share a
// timestamp; a token of another list, a forged one or a bad $top is a precise 400 that reads
// nothing; a token cannot reach another cluster's or tenant's rows. And a create that leaves out
// consulVersion gets the catalogue's RECOMMENDED version.
import { status } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterService } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { OperationService } from '../../gen/hcs/consul/v1/operation_pb.js';
import { insertSnapshot } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from './harness.js';
import { grpc } from '../security/grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState } from '../security/support.js';

const stack = inject('stack');
let cp: ControlPlane;
const sub = randomUUID();
const path = clusterPath(sub, 'rg', 'paged');
const otherPath = clusterPath(sub, 'rg', 'paged-other');
const key = path.toLowerCase();
/** Operation ids this test inserted, newest first as the list must return them (plus the create). */
let insertedOps: string[] = [];
const insertedSnaps: string[] = [];

/** Inserts finished operations at the given times (several share one), as the store holds them. */
async function insertOperations(resourceKey: string, times: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const at of times) {
    const id = randomUUID();
    ids.push(id);
    await cp.db.query(
      `INSERT INTO operations (operation_id, resource_id, subscription_id, location, kind, workflow_id, status, percent_complete, started_at, ended_at)
       VALUES ($1, $2, $3, 'westeurope', 'createSnapshot', $4, 'Succeeded', 100, $5::timestamptz, $5::timestamptz)`,
      [id, resourceKey, sub, `test-${id}`, at],
    );
  }
  return ids;
}

beforeAll(async () => {
  cp = await startControlPlane(stack);
  await cp.registerSubscription(sub);
  for (const [p, cidr] of [
    [path, '10.91.0.0/16'],
    [otherPath, '10.92.0.0/16'],
  ] as const) {
    expect((await rest(cp, 'PUT', `${p}?${V}`, { body: clusterBody(stack.tools.consulVersions[0]!, cidr) })).status).toBe(201);
    await waitForState(cp, p, ['Succeeded']);
  }
  // Long ago, so the create (now) stays first; three share one microsecond, two differ by one.
  const times = [
    '2020-01-01T00:00:00.000001Z',
    '2020-01-01T00:00:00.000002Z',
    '2020-01-02T00:00:00Z',
    '2020-01-02T00:00:00Z',
    '2020-01-02T00:00:00Z',
  ];
  insertedOps = await insertOperations(key, times);
  await insertOperations(otherPath.toLowerCase(), times);
  for (let i = 0; i < 5; i++) {
    const snapshotId = randomUUID();
    insertedSnaps.push(snapshotId);
    await insertSnapshot(cp.db, {
      snapshotId,
      resourceKey: key,
      name: `s${i}`,
      kind: 'MANUAL',
      state: 'COMPLETED',
      sizeBytes: 10,
      consulVersion: stack.tools.consulVersions[0]!,
      finished: true,
    });
  }
  // Every snapshot row gets the same request time: the id alone orders them.
  await cp.db.query(`UPDATE snapshots SET requested_at = '2021-06-01T00:00:00Z' WHERE resource_id = $1`, [key]);
});
afterAll(async () => {
  await cp?.close();
});

/** Every page of a REST list, following nextLink with the list's own method. */
async function pages(method: 'GET' | 'POST', first: string): Promise<Array<{ value: any[]; nextLink?: string }>> {
  const out: Array<{ value: any[]; nextLink?: string }> = [];
  for (let next: string | undefined = first; next;) {
    const r = await rest(cp, method, next);
    expect(r.status, JSON.stringify(r.json)).toBe(200);
    out.push(r.json);
    expect(out.length).toBeLessThan(20);
    next = r.json.nextLink ? new URL(r.json.nextLink).pathname + new URL(r.json.nextLink).search : undefined;
  }
  return out;
}

describe('operations list paging', () => {
  it('pages newest first with $top, each row exactly once, and no nextLink on the last page', async () => {
    const all = await pages('GET', `${path}/operations?${V}`);
    expect(all).toHaveLength(1);
    const ids = all[0]!.value.map((o) => o.name as string);
    expect(ids).toHaveLength(6);
    expect(all[0]!.value[0].properties.kind).toBe('create');
    // The inserted rows, newest first: the three that share a time (by id, descending), then the two a microsecond apart.
    const tied = insertedOps.slice(2).sort().reverse();
    expect(ids.slice(1)).toEqual([...tied, insertedOps[1], insertedOps[0]]);

    const paged = await pages('GET', `${path}/operations?${V}&$top=2`);
    expect(paged.map((p) => p.value.length)).toEqual([2, 2, 2]);
    expect(paged.flatMap((p) => p.value.map((o) => o.name))).toEqual(ids);
    expect('nextLink' in paged.at(-1)!).toBe(false);
    expect(new URL(paged[0]!.nextLink!).searchParams.get('$top')).toBe('2');
  });

  it('refuses a bad $top, a forged token and another list’s token with a 400 naming the parameter', async () => {
    const snapshotToken = new URL((await rest(cp, 'POST', `${path}/listSnapshots?${V}&$top=1`)).json.nextLink).searchParams.get(
      '$skipToken',
    )!;
    const forged = Buffer.from(JSON.stringify(['operations', 'not-a-number', 'x'])).toString('base64url');
    for (const [query, target] of [
      ['$top=0', '$top'],
      ['$top=1001', '$top'],
      ['$top=two', '$top'],
      ['$skipToken=garbage', '$skipToken'],
      [`$skipToken=${snapshotToken}`, '$skipToken'],
      [`$skipToken=${forged}`, '$skipToken'],
    ]) {
      const r = await rest(cp, 'GET', `${path}/operations?${V}&${query}`);
      expect(r.status, query).toBe(400);
      expect(r.json.error.code, query).toBe('InvalidParameter');
      expect(r.json.error.target, query).toBe(target);
    }
  });

  it('keeps a token to its own cluster: used on another cluster it only continues that cluster’s list', async () => {
    const first = await rest(cp, 'GET', `${path}/operations?${V}&$top=1`);
    const token = new URL(first.json.nextLink).searchParams.get('$skipToken')!;
    const other = await rest(cp, 'GET', `${otherPath}/operations?${V}&$skipToken=${token}`);
    expect(other.status).toBe(200);
    const ops = other.json.value as Array<{ id: string; name: string }>;
    for (const op of ops) expect(op.id.toLowerCase()).not.toContain(`/clusters/paged/`);
    expect(ops.map((o) => o.name)).not.toContain(insertedOps[0]);
  });

  it('shows another tenant nothing: its reader gets 403 for the list, with or without a token', async () => {
    const token = new URL((await rest(cp, 'GET', `${path}/operations?${V}&$top=1`)).json.nextLink).searchParams.get('$skipToken')!;
    const attacker = cp.scopedToken(cp.scopedSubscriptionIds[0]!);
    for (const q of ['', `&$skipToken=${token}`]) {
      const r = await rest(cp, 'GET', `${path}/operations?${V}${q}`, { token: attacker });
      expect([403, 404]).toContain(r.status);
      expect(JSON.stringify(r.json)).not.toContain(insertedOps[0]);
    }
  });

  it('pages over gRPC with top and skipToken as well', async () => {
    const req = { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'paged' };
    const seen: string[] = [];
    let skipToken: string | undefined;
    for (let i = 0; i < 10; i++) {
      const r = await grpc(
        cp,
        OperationService,
        'ListOperations',
        { ...req, top: 4, ...(skipToken ? { skipToken } : {}) },
        cp.tokens.reader,
      );
      expect(r.code, r.details).toBe(status.OK);
      seen.push(...(r.response.value as Array<{ name: string }>).map((o) => o.name));
      const next = r.response.nextLink as string | undefined;
      if (!next) break;
      skipToken = new URL(next, 'https://grpc.invalid').searchParams.get('$skipToken')!;
    }
    expect(seen).toHaveLength(6);
    expect(new Set(seen).size).toBe(6);
    const bad = await grpc(cp, OperationService, 'ListOperations', { ...req, skipToken: 'garbage' }, cp.tokens.reader);
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
  });
});

describe('snapshots list paging', () => {
  it('pages the POST list action, ordered by id when the times are equal', async () => {
    const paged = await pages('POST', `${path}/listSnapshots?${V}&$top=2`);
    expect(paged.map((p) => p.value.length)).toEqual([2, 2, 1]);
    expect(paged.flatMap((p) => p.value.map((s) => s.id))).toEqual([...insertedSnaps].sort().reverse());
    const r = await grpc(
      cp,
      ClusterService,
      'ListSnapshots',
      { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'paged', top: 5 },
      cp.tokens.reader,
    );
    expect(r.code, r.details).toBe(status.OK);
    expect(r.response.value).toHaveLength(5);
    expect(r.response.nextLink ?? '').toBe('');
  });
});

describe('consulVersion default', () => {
  it('gives a create without consulVersion the catalogue’s RECOMMENDED version', async () => {
    const p = clusterPath(sub, 'rg', 'defaulted');
    const body = { location: 'westeurope', properties: { network: { cidr: '10.93.0.0/16' } } };
    const put = await rest(cp, 'PUT', `${p}?${V}`, { body });
    expect(put.status, JSON.stringify(put.json)).toBe(201);
    // The harness's catalogue marks the newest version RECOMMENDED.
    expect(put.json.properties.consulVersion).toBe(stack.tools.consulVersions.at(-1));
    await waitForState(cp, p, ['Succeeded']);
  });
});
