// What the gRPC attack tests share: one TLS connection to the API for many calls (any RPC of the
// contract, messages from the generated descriptors), a victim with a cluster, an operation and
// a snapshot, a request for every RPC aimed at the victim, and the victim's rows in the store.
import { fromBinary, fromJson, toBinary, toJson, type DescMethod, type DescService, type JsonValue } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { SERVICES } from '../../apps/api/src/contract.js';
import { BadRequestSchema } from '../../gen/google/rpc/error_details_pb.js';
import { StatusSchema } from '../../gen/google/rpc/status_pb.js';
import { listOperations } from '../../store/operations.js';
import { insertSnapshot } from '../../store/snapshots.js';
import type { ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

export const RPCS: Array<{ service: DescService; method: DescMethod }> = SERVICES.flatMap((service) =>
  service.methods.map((method) => ({ service, method })),
);

export interface GrpcAnswer {
  /** 0: OK, else the gRPC status code. */
  code: number;
  ms: number;
  response?: Record<string, unknown>;
  details?: string;
  /** The ARM error from the error-body-json trailer. */
  error?: { code: string; message: string; target?: string; details?: Array<{ code: string; message: string; target?: string }> };
  /** google.rpc.BadRequest field violations from grpc-status-details-bin. */
  violations: Array<{ field: string; reason: string; description: string }>;
  /** Total size of the trailing metadata values. */
  trailerBytes: number;
}

/** One channel (one HTTP/2 connection) to the API's gRPC port, verified with the API's CA. */
export class GrpcConnection {
  private readonly client: Client;

  constructor(cp: ControlPlane) {
    this.client = new Client(cp.api.grpcAddress, credentials.createSsl(Buffer.from(cp.caCertPem)));
  }

  call(
    method: DescMethod,
    request: Record<string, unknown>,
    token: string | null,
    deadlineMs = 10_000,
    headers: Record<string, string> = {},
  ): Promise<GrpcAnswer> {
    const md = new Metadata();
    if (token) md.set('authorization', `Bearer ${token}`);
    for (const [k, v] of Object.entries(headers)) md.set(k, v);
    const started = Date.now();
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        `/${method.parent.typeName}/${method.name}`,
        (m: Record<string, unknown>) => Buffer.from(toBinary(method.input, fromJson(method.input, m as JsonValue))),
        (b: Buffer) => toJson(method.output, fromBinary(method.output, b)) as Record<string, unknown>,
        request,
        md,
        { deadline: started + deadlineMs },
        (err: ServiceError | null, response?: Record<string, unknown>) => {
          const ms = Date.now() - started;
          if (!err) return resolve({ code: 0, ms, ...(response ? { response } : {}), violations: [], trailerBytes: 0 });
          resolve({ code: err.code, ms, details: err.details, ...readTrailers(err.metadata) });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function readTrailers(md: Metadata | undefined): Pick<GrpcAnswer, 'error' | 'violations' | 'trailerBytes'> {
  if (!md) return { violations: [], trailerBytes: 0 };
  const all = md.getMap();
  const trailerBytes = Object.values(all).reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : v.length), 0);
  const body = md.get('error-body-json')[0];
  const error = typeof body === 'string' ? (JSON.parse(body) as { error: GrpcAnswer['error'] }).error : undefined;
  const bin = md.get('grpc-status-details-bin')[0];
  const violations: GrpcAnswer['violations'] = [];
  if (bin instanceof Buffer) {
    for (const any of fromBinary(StatusSchema, bin).details) {
      const bad = anyUnpack(any, BadRequestSchema);
      if (bad) violations.push(...bad.fieldViolations.map((v) => ({ field: v.field, reason: v.reason, description: v.description })));
    }
  }
  return { ...(error ? { error } : {}), violations, trailerBytes };
}

export interface Victim {
  subscriptionId: string;
  resourceGroup: string;
  clusterName: string;
  location: string;
  operationId: string;
  snapshotId: string;
  consulVersion: string;
  path: string;
}

/** A registered subscription with a provisioned cluster (its create operation) and a snapshot. */
export async function makeVictim(cp: ControlPlane, subscriptionId: string, consulVersion: string, cidr: string): Promise<Victim> {
  await cp.registerSubscription(subscriptionId);
  const path = clusterPath(subscriptionId, 'rg-victim', 'crown-jewels');
  const put = await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(consulVersion, cidr, { serverCount: 3 }) });
  expect(put.status, JSON.stringify(put.json)).toBe(201);
  await waitForState(cp, path, ['Succeeded']);
  // The create operation ends after the cluster's state says Succeeded; wait for it, so the
  // store holds still while the attacks run.
  let op = (await listOperations(cp.db, path.toLowerCase()))[0];
  for (const end = Date.now() + 30_000; op?.status !== 'Succeeded' && Date.now() < end;) {
    await new Promise((r) => setTimeout(r, 100));
    op = (await listOperations(cp.db, path.toLowerCase()))[0];
  }
  expect(op?.status).toBe('Succeeded');
  const snapshotId = randomUUID();
  await insertSnapshot(cp.db, {
    snapshotId,
    resourceKey: path.toLowerCase(),
    name: 'nightly',
    kind: 'AUTOMATIC',
    state: 'COMPLETED',
    sizeBytes: 1234,
    consulVersion,
    finished: true,
  });
  return {
    subscriptionId,
    resourceGroup: 'rg-victim',
    clusterName: 'crown-jewels',
    location: 'westeurope',
    operationId: op!.operationId,
    snapshotId,
    consulVersion,
    path,
  };
}

/**
 * A well-formed request of `method` aimed at the victim's resources: path fields name them, the
 * body asks for the most damaging change the RPC allows. Fields the table does not know stay unset.
 */
export function requestFor(method: DescMethod, v: Victim): Record<string, unknown> {
  const values: Record<string, unknown> = {
    subscriptionId: v.subscriptionId,
    resourceGroup: v.resourceGroup,
    clusterName: v.clusterName,
    location: v.location,
    operationId: v.operationId,
    snapshotId: v.snapshotId,
    consulVersion: v.consulVersion,
    month: new Date().toISOString().slice(0, 7),
    name: 'renamed-by-attacker',
    cluster: { ...clusterBody(v.consulVersion, '10.250.0.0/16', { serverCount: 5 }), tags: { owner: 'attacker' } },
    subscription: { state: 'Deleted' },
    notification: {
      eventType: 'DELETE',
      applicationId: `/subscriptions/${v.subscriptionId}/resourceGroups/${v.resourceGroup}/providers/Microsoft.Solutions/applications/app`,
      eventTime: new Date().toISOString(),
      provisioningState: 'Deleted',
    },
  };
  return Object.fromEntries(method.input.fields.filter((f) => f.jsonName in values).map((f) => [f.jsonName, values[f.jsonName]]));
}

/** Every row of the store that belongs to the subscription, as text: equal before and after means nothing changed. */
export async function storeRows(cp: ControlPlane, subscriptionId: string): Promise<Record<string, string[]>> {
  const prefix = `/subscriptions/${subscriptionId.toLowerCase()}/%`;
  const queries: Record<string, [string, unknown[]]> = {
    subscriptions: ['SELECT t::text AS row FROM subscriptions t WHERE subscription_id = $1', [subscriptionId]],
    clusters: ['SELECT t::text AS row FROM clusters t WHERE subscription_id = $1', [subscriptionId]],
    operations: ['SELECT t::text AS row FROM operations t WHERE subscription_id = $1', [subscriptionId]],
    snapshots: ['SELECT t::text AS row FROM snapshots t WHERE resource_id LIKE $1', [prefix]],
    notifications: ['SELECT t::text AS row FROM notifications t WHERE subscription_id = $1', [subscriptionId]],
    cluster_secrets: ['SELECT t::text AS row FROM cluster_secrets t WHERE scope LIKE $1', [prefix]],
    federation_tokens: ['SELECT t::text AS row FROM federation_tokens t WHERE primary_key LIKE $1', [prefix]],
  };
  const out: Record<string, string[]> = {};
  for (const [table, [sql, params]] of Object.entries(queries)) {
    // A table a newer migration adds is compared once it exists.
    const { rows: exists } = await cp.db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
    if (!exists[0]?.t) continue;
    const { rows } = await cp.db.query<{ row: string }>(`${sql} ORDER BY 1`, params);
    out[table] = rows.map((r) => r.row);
  }
  return out;
}

export interface GrpcReply {
  /** 0 for OK, else the gRPC status code. */
  code: number;
  response?: any;
  details?: string;
}

/** One unary call on a connection of its own (GrpcConnection), the message given as proto JSON. */
export async function grpc(
  cp: ControlPlane,
  service: DescService,
  methodName: string,
  request: Record<string, unknown>,
  token: string | null,
  o: { deadlineMs?: number } = {},
): Promise<GrpcReply> {
  const method = service.methods.find((m) => m.name === methodName);
  if (!method) throw new Error(`${service.typeName} has no method ${methodName}`);
  const connection = new GrpcConnection(cp);
  try {
    const a = await connection.call(method, request, token, o.deadlineMs);
    return { code: a.code, ...(a.response ? { response: a.response } : {}), ...(a.details ? { details: a.details } : {}) };
  } finally {
    connection.close();
  }
}
