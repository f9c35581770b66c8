// Property-based abuse of both transports: thousands of malformed REST bodies and gRPC messages.
// Whatever arrives, the API answers with a client error (never a 5xx / INTERNAL), keeps running,
// and writes nothing.
import { create, toBinary } from '@bufbuild/protobuf';
import { credentials, Client, Metadata, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { CreateOrReplaceClusterRequestSchema } from '../../gen/hcs/consul/v1/cluster_service_pb.js';
import { listOperations } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from './harness.js';

const stack = inject('stack');
const V = 'api-version=2026-11-01';
const RUNS = 1_100; // per transport: more than 2,000 malformed requests in all
// Reproducible by default (CI must not be a lottery); FUZZ_SEED=<n> explores other inputs.
const SEED = Number(process.env.FUZZ_SEED ?? 20261121);
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => {
  await cp?.close();
});

const validBody = () => ({
  location: 'westeurope',
  tags: { a: 'b' },
  properties: { consulVersion: stack.tools.consulVersions.at(-1)!, serverCount: 3, network: { cidr: '10.90.0.0/16' } },
});

// Each mutation is guaranteed to make a valid body invalid.
const paths = [
  'location',
  'properties',
  'properties.consulVersion',
  'properties.serverCount',
  'properties.network',
  'properties.network.cidr',
  'tags',
];
const badValue = fc.oneof(
  fc.integer({ min: -1e6, max: 1e6 }).filter((n) => ![1, 3, 5].includes(n)),
  fc.double().filter((d) => !Number.isInteger(d)),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
  fc.string({ maxLength: 40 }).map((s) => `${s}\u0000`),
);
const mutation = fc.oneof(
  fc.record({
    kind: fc.constant('unknown' as const),
    key: fc
      .string({ minLength: 1, maxLength: 12 })
      .filter((k) => !['location', 'tags', 'properties', 'id', 'name', 'type', 'systemData'].includes(k)),
    value: fc.jsonValue(),
  }),
  // null means "not set" for optional fields, which is valid (consulVersion left out takes the
  // catalogue's recommended version); everything else here is wrong for every path.
  fc
    .record({ kind: fc.constant('set' as const), path: fc.constantFrom(...paths), value: badValue })
    .filter((m) => !(['tags', 'properties.serverCount', 'properties.consulVersion'].includes(m.path) && m.value === null)),
  fc.record({
    kind: fc.constant('drop' as const),
    path: fc.constantFrom('location', 'properties', 'properties.network'),
  }),
);

type Mutation =
  { kind: 'unknown'; key: string; value: unknown } | { kind: 'set'; path: string; value: unknown } | { kind: 'drop'; path: string };

function apply(m: Mutation, body: any): any {
  const copy = structuredClone(body);
  if (m.kind === 'unknown') {
    (m.key.length % 2 ? copy : copy.properties)[m.key] = m.value;
    return copy;
  }
  const parts = m.path.split('.');
  let target = copy;
  for (const p of parts.slice(0, -1)) target = target[p];
  if (m.kind === 'drop') delete target[parts.at(-1)!];
  else target[parts.at(-1)!] = m.value;
  return copy;
}

const restBody = fc.oneof(
  mutation.map((m) => JSON.stringify(apply(m, validBody()))),
  fc
    .jsonValue()
    .filter((v) => !(v && typeof v === 'object' && !Array.isArray(v) && 'location' in v && 'properties' in v))
    .map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }), // mostly not JSON at all
);

it(`answers ${RUNS} malformed REST bodies with 4xx and writes nothing`, async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const statuses = new Map<number, number>();
  await fc.assert(
    fc.asyncProperty(restBody, fc.constantFrom('PUT', 'PATCH'), async (raw, method) => {
      const path = `/subscriptions/${sub}/resourceGroups/rg-fuzz/providers/HCS.Consul/clusters/fuzz?${V}`;
      const res = await httpCall(`${cp.api.restUrl}${path}`, {
        method,
        ca: cp.caCertPem,
        headers: { authorization: `Bearer ${cp.tokens.admin}`, 'content-type': 'application/json' },
        body: raw,
      });
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status, `${method} ${raw.slice(0, 200)} -> ${res.body.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(JSON.parse(res.body).error.code).toMatch(/^[A-Z][A-Za-z]+$/);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  const { rows } = await cp.db.query(`SELECT count(*)::int AS n FROM clusters WHERE subscription_id = $1`, [sub]);
  expect(rows[0]).toEqual({ n: 0 });
  expect(await listOperations(cp.db, `/subscriptions/${sub}/resourcegroups/rg-fuzz/providers/hcs.consul/clusters/fuzz`)).toEqual([]);
  expect([...statuses.keys()].every((s) => s >= 400 && s < 500)).toBe(true);
});

it(`answers ${RUNS} malformed gRPC messages with client error codes and writes nothing`, async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const client = new Client(cp.api.grpcAddress, credentials.createSsl(Buffer.from(cp.caCertPem)));
  const md = new Metadata();
  md.set('authorization', `Bearer ${cp.tokens.admin}`);
  const callRaw = (bytes: Uint8Array) =>
    new Promise<ServiceError | null>((resolve) => {
      client.makeUnaryRequest(
        '/hcs.consul.v1.ClusterService/CreateOrReplaceCluster',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.from(bytes),
        md,
        (err) => resolve(err),
      );
    });
  const message = fc.record({
    location: fc.string({ maxLength: 30 }),
    consulVersion: fc.string({ maxLength: 12 }),
    serverCount: fc.integer({ min: -10, max: 10 }).filter((n) => ![1, 3, 5].includes(n)),
    cidr: fc.string({ maxLength: 20 }),
    datacenter: fc.string({ maxLength: 70 }),
  });
  const input = fc.oneof(
    message.map((m) =>
      toBinary(
        CreateOrReplaceClusterRequestSchema,
        create(CreateOrReplaceClusterRequestSchema, {
          subscriptionId: sub,
          resourceGroup: 'rg-fuzz',
          clusterName: 'fuzz',
          cluster: {
            location: m.location,
            properties: { consulVersion: m.consulVersion, serverCount: m.serverCount, datacenter: m.datacenter, network: { cidr: m.cidr } },
          },
        }),
      ),
    ),
    fc.uint8Array({ minLength: 1, maxLength: 300 }), // arbitrary bytes: mostly undecodable
  );
  const codes = new Map<number, number>();
  try {
    await fc.assert(
      fc.asyncProperty(input, async (bytes) => {
        const err = await callRaw(bytes);
        expect(err, 'a malformed message was accepted').not.toBeNull();
        codes.set(err!.code, (codes.get(err!.code) ?? 0) + 1);
        // INVALID_ARGUMENT (3), NOT_FOUND (5) for unusable names, never INTERNAL (13) or UNKNOWN (2).
        expect([3, 5], `${err!.code} ${err!.details}`).toContain(err!.code);
      }),
      { numRuns: RUNS, seed: SEED + 1 },
    );
  } finally {
    client.close();
  }
  const { rows } = await cp.db.query(`SELECT count(*)::int AS n FROM clusters WHERE subscription_id = $1`, [sub]);
  expect(rows[0]).toEqual({ n: 0 });
});
