// Issue 11, item 8 (API): one tenant cannot take more than its share. Clusters per subscription
// are capped (default 10: the 11th is 409 QuotaExceeded naming the limit, also when two creates
// race for the last slot), MANUAL snapshots per cluster are capped (default 50), and a caller
// that sends too many requests gets 429 with Retry-After (gRPC: RESOURCE_EXHAUSTED with
// RetryInfo) while other callers are still served. Each refusal writes nothing.
//
// The control plane runs with the default quotas and a small rate limit (1 request per second,
// burst 5) so the burst is quick to reach. Setting-up requests go through ARM, which is not
// limited here (it throttles upstream, per principal); the attacks come from customer tokens.
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';
import { fromBinary, fromJson, toBinary } from '@bufbuild/protobuf';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ClusterService, GetClusterRequestSchema } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { RetryInfoSchema } from '../../gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../gen/google/rpc/status_pb.js';
import { getCluster } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { insertSnapshot, listSnapshots } from '../../store/snapshots.js';
import { countClusters } from '../../store/quotas.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { grpc } from './grpc-support.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const RATE = { requestsPerSecond: 1, burst: 5 };
let cp: ControlPlane;
let arm: string;

beforeAll(async () => {
  cp = await startControlPlane(stack, { rateLimit: RATE });
  arm = await cp.mintJwt('arm');
});
afterAll(async () => {
  await cp?.close();
});

/** A customer operator of `sub` with a subject of its own (so its own request bucket). */
const customer = (sub: string, oid = `customer-${randomUUID()}`) =>
  cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub], oid });

async function fillSubscription(sub: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await rest(cp, 'PUT', `${clusterPath(sub, 'rg', `c-${i}`)}?${V}`, {
      token: arm,
      body: clusterBody(version, `10.${100 + i}.0.0/16`),
    });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
}

async function expectNothingAt(path: string): Promise<void> {
  expect(await getCluster(cp.db, path.toLowerCase())).toBeUndefined();
  expect(await listOperations(cp.db, path.toLowerCase())).toEqual([]);
}

describe('clusters per subscription', () => {
  it('refuses the 11th cluster with 409 QuotaExceeded naming 10, on REST and gRPC, and writes nothing', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    await fillSubscription(sub, 10);
    const token = await customer(sub);
    const eleventh = clusterPath(sub, 'rg', 'eleventh');
    const refused = await rest(cp, 'PUT', `${eleventh}?${V}`, { token, body: clusterBody(version, '10.200.0.0/16') });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('QuotaExceeded');
    expect(refused.json.error.message).toMatch(/limit is 10 clusters per subscription/);
    await expectNothingAt(eleventh);

    const viaGrpc = await grpc(
      cp,
      ClusterService,
      'CreateOrReplaceCluster',
      { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'eleventh-grpc', cluster: clusterBody(version, '10.201.0.0/16') },
      token,
    );
    expect(viaGrpc.code).toBe(9); // FAILED_PRECONDITION, as every 409
    expect(viaGrpc.details).toContain('QuotaExceeded');
    await expectNothingAt(clusterPath(sub, 'rg', 'eleventh-grpc'));
    expect(await countClusters(cp.db, sub)).toBe(10);

    // Changing an existing cluster is not a new one.
    const patched = await rest(cp, 'PATCH', `${clusterPath(sub, 'rg', 'c-0')}?${V}`, { token, body: { tags: { team: 'a' } } });
    expect([200, 202, 409]).toContain(patched.status);
    expect(patched.json?.error?.code).not.toBe('QuotaExceeded');

    // The quota counts what exists: once one is gone, a new one fits.
    await waitForState(cp, clusterPath(sub, 'rg', 'c-9'), ['Succeeded']);
    expect((await rest(cp, 'DELETE', `${clusterPath(sub, 'rg', 'c-9')}?${V}`, { token: arm })).status).toBe(202);
    for (const end = Date.now() + 30_000; (await countClusters(cp.db, sub)) > 9 && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 100));
    const fits = await rest(cp, 'PUT', `${eleventh}?${V}`, { token, body: clusterBody(version, '10.200.0.0/16') });
    expect(fits.status, JSON.stringify(fits.json)).toBe(201);
  });

  it('two creates racing for the last slot: exactly one gets it, the other is refused and leaves nothing', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    await fillSubscription(sub, 9);
    const racers = [clusterPath(sub, 'rg', 'racer-a'), clusterPath(sub, 'rg', 'racer-b')];
    const answers = await Promise.all(
      racers.map((p, i) => rest(cp, 'PUT', `${p}?${V}`, { token: arm, body: clusterBody(version, `10.${210 + i}.0.0/16`) })),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 409]);
    const loser = answers.findIndex((a) => a.status === 409);
    expect(answers[loser]!.json.error.code).toBe('QuotaExceeded');
    await expectNothingAt(racers[loser]!);
    expect(await countClusters(cp.db, sub)).toBe(10);
  });

  it("the address-range rule reads only the caller's subscription: another tenant's range neither refuses a create nor shows in a refusal", async () => {
    const [subA, subB] = [randomUUID(), randomUUID()];
    await cp.registerSubscription(subA);
    await cp.registerSubscription(subB);
    const theirs = clusterPath(subA, 'rg', 'tenant-a');
    expect((await rest(cp, 'PUT', `${theirs}?${V}`, { token: arm, body: clusterBody(version, '10.50.0.0/16') })).status).toBe(201);
    const token = await customer(subB);
    // The same range in another subscription is the customer's to use.
    const mine = clusterPath(subB, 'rg', 'tenant-b');
    expect((await rest(cp, 'PUT', `${mine}?${V}`, { token, body: clusterBody(version, '10.50.0.0/16') })).status).toBe(201);
    // A range overlapping both is refused for the caller's own cluster alone.
    const probe = clusterPath(subB, 'rg', 'probe');
    const refused = await rest(cp, 'PUT', `${probe}?${V}`, { token, body: clusterBody(version, '10.50.1.0/24') });
    expect(refused.status).toBe(400);
    expect(refused.json.error).toMatchObject({ code: 'CidrOverlap', message: expect.stringContaining(mine) });
    expect(JSON.stringify(refused.json)).not.toContain(subA);
    await expectNothingAt(probe);
  });
});

describe('MANUAL snapshots per cluster', () => {
  it('takes the 50th MANUAL snapshot and refuses the 51st with 409 QuotaExceeded naming 50; nothing is started', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const path = clusterPath(sub, 'rg', 'snapshots');
    const key = path.toLowerCase();
    expect((await rest(cp, 'PUT', `${path}?${V}`, { token: arm, body: clusterBody(version, '10.220.0.0/16') })).status).toBe(201);
    await waitForState(cp, path, ['Succeeded']);
    // 49 MANUAL snapshots taken earlier (written to the store: 49 snapshot workflows would only be slow),
    // and AUTOMATIC ones, which do not count (their schedule's retention prunes them).
    for (let i = 0; i < 55; i++) {
      await insertSnapshot(cp.db, {
        snapshotId: randomUUID(),
        resourceKey: key,
        name: `earlier-${i}`,
        kind: i < 49 ? 'MANUAL' : 'AUTOMATIC',
        state: 'COMPLETED',
        sizeBytes: 1,
        consulVersion: version,
        finished: true,
      });
    }
    const token = await customer(sub);
    const fiftieth = await rest(cp, 'POST', `${path}/createSnapshot?${V}`, { token, body: { name: 'fiftieth' } });
    expect(fiftieth.status, JSON.stringify(fiftieth.json)).toBe(202);
    for (const end = Date.now() + 30_000; Date.now() < end;) {
      const [op] = await listOperations(cp.db, key);
      if (op?.kind === 'snapshot' && op.status === 'Succeeded') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const before = { snapshots: (await listSnapshots(cp.db, key)).length, operations: (await listOperations(cp.db, key)).length };
    expect((await listSnapshots(cp.db, key)).filter((s) => s.kind === 'MANUAL')).toHaveLength(50);

    const refused = await rest(cp, 'POST', `${path}/createSnapshot?${V}`, { token, body: { name: 'fifty-first' } });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('QuotaExceeded');
    expect(refused.json.error.message).toMatch(/limit is 50 MANUAL snapshots per cluster/);
    expect(refused.json.error.message).toContain('deleteSnapshot');
    expect({ snapshots: (await listSnapshots(cp.db, key)).length, operations: (await listOperations(cp.db, key)).length }).toEqual(before);
    expect((await listSnapshots(cp.db, key)).some((s) => s.name === 'fifty-first')).toBe(false);
  });
});

type UnaryCall = (
  request: unknown,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null) => void,
) => void;

/** A gRPC GetCluster with the status, retry-after trailer and RetryInfo of a refusal. */
async function grpcGetCluster(token: string, sub: string): Promise<{ code: number; retryAfter?: string; retryDelaySeconds?: number }> {
  const method = ClusterService.method.getCluster;
  const Ctor = makeGenericClientConstructor(
    {
      GetCluster: {
        path: `/${ClusterService.typeName}/GetCluster`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: unknown) => Buffer.from(toBinary(method.input, m as never)),
        requestDeserialize: () => ({}),
        responseSerialize: () => Buffer.alloc(0),
        responseDeserialize: (b: Buffer) => b,
      },
    },
    'ClusterService',
  );
  const client = new Ctor(cp.api.grpcAddress, credentials.createSsl(Buffer.from(cp.caCertPem)));
  const md = new Metadata();
  md.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise((resolve) => {
      const call = (client as unknown as Record<string, UnaryCall>).GetCluster!;
      call.call(
        client,
        fromJson(GetClusterRequestSchema, { subscriptionId: sub, resourceGroup: 'rg', clusterName: 'absent' }),
        md,
        { deadline: Date.now() + 10_000 },
        (err: ServiceError | null) => {
          if (!err) return resolve({ code: 0 });
          const details = err.metadata.get('grpc-status-details-bin')[0];
          const status = details ? fromBinary(StatusSchema, details as Buffer) : undefined;
          const retry = status?.details.map((d) => anyUnpack(d, RetryInfoSchema)).find((r) => r !== undefined);
          resolve({
            code: err.code,
            ...(err.metadata.get('retry-after')[0] !== undefined ? { retryAfter: String(err.metadata.get('retry-after')[0]) } : {}),
            ...(retry?.retryDelay ? { retryDelaySeconds: Number(retry.retryDelay.seconds) } : {}),
          });
        },
      );
    });
  } finally {
    client.close();
  }
}

describe('per-caller rate limit', () => {
  it('a burst from one caller gets 429 with Retry-After (REST) and RESOURCE_EXHAUSTED with RetryInfo (gRPC); others are served', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const noisy = await customer(sub, 'noisy-caller');
    const quiet = await customer(sub, 'quiet-caller');
    const path = clusterPath(sub, 'rg', 'throttled');
    const burst = await Promise.all(Array.from({ length: RATE.burst + 3 }, () => rest(cp, 'GET', `${path}?${V}`, { token: noisy })));
    const statuses = burst.map((r) => r.status);
    // The bucket holds `burst` requests (404: the cluster does not exist; the caller may ask); the rest are refused.
    expect(statuses.filter((s) => s === 404).length).toBeGreaterThanOrEqual(RATE.burst);
    const throttled = burst.filter((r) => r.status === 429);
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    for (const r of throttled) {
      expect(r.json.error.code).toBe('TooManyRequests');
      expect(r.headers['x-ms-error-code']).toBe('TooManyRequests');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }

    // Another caller is served meanwhile; the throttled caller's write is refused and writes nothing.
    expect((await rest(cp, 'GET', `${path}?${V}`, { token: quiet })).status).toBe(404);
    const write = await rest(cp, 'PUT', `${path}?${V}`, { token: noisy, body: clusterBody(version, '10.230.0.0/16') });
    expect(write.status).toBe(429);
    await expectNothingAt(path);

    // gRPC shares the caller's bucket.
    const viaGrpc = await grpcGetCluster(noisy, sub);
    expect(viaGrpc.code).toBe(8); // RESOURCE_EXHAUSTED
    expect(Number(viaGrpc.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(viaGrpc.retryDelaySeconds).toBeGreaterThanOrEqual(1);
    expect((await grpcGetCluster(quiet, sub)).code).toBe(5); // NOT_FOUND: served

    // A bucket, not a ban: after Retry-After the caller is served again.
    const wait = Number(throttled.at(-1)!.headers['retry-after']);
    await new Promise((r) => setTimeout(r, wait * 1000 + 200));
    expect((await rest(cp, 'GET', `${path}?${V}`, { token: noisy })).status).toBe(404);

    // ARM is not limited here (it throttles per principal upstream; one shared bucket would let one tenant starve all).
    const viaArm = await Promise.all(Array.from({ length: RATE.burst * 3 }, () => rest(cp, 'GET', `${path}?${V}`, { token: arm })));
    expect(viaArm.map((r) => r.status)).toEqual(Array(RATE.burst * 3).fill(404));
  });
});
