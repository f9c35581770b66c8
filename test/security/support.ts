// What the attack tests share: REST and gRPC calls against a running control plane, as any
// client would make them (HTTPS with the API's CA; gRPC with protobuf-es messages over grpc-js).
import { fromBinary, fromJson, toBinary, toJson, type DescService, type JsonValue } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { httpCall } from '../../lib/http.js';
import type { ControlPlane } from '../api/harness.js';

export const V = 'api-version=2026-11-01';

export interface Reply {
  status: number;
  json: any;
  headers: Record<string, string | string[] | undefined>;
}

/** A REST call with a bearer token (null: none) and an optional JSON body. */
export async function rest(
  cp: ControlPlane,
  method: string,
  path: string,
  o: { token?: string | null; body?: unknown; headers?: Record<string, string>; clientCert?: { cert: string; key: string } } = {},
): Promise<Reply> {
  const token = o.token === undefined ? cp.tokens.admin : o.token;
  const res = await httpCall(`${cp.api.restUrl}${path}`, {
    method,
    ca: cp.caCertPem,
    ...(o.clientCert ? { clientCert: o.clientCert } : {}),
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
  return { status: res.status, headers: res.headers, json: res.body ? JSON.parse(res.body) : undefined };
}

export const clusterPath = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/HCS.Consul/clusters/${name}`;

export const clusterBody = (consulVersion: string, cidr: string, extra: Record<string, unknown> = {}) => ({
  location: 'westeurope',
  properties: { consulVersion, network: { cidr }, ...extra },
});

/** Polls GET until the cluster reaches one of the states (a deadline, not a count). */
export async function waitForState(cp: ControlPlane, path: string, states: string[]): Promise<any> {
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const r = await rest(cp, 'GET', `${path}?${V}`);
    if (r.status === 200 && states.includes(r.json.properties.provisioningState)) return r.json;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${path} never reached ${states.join('/')}`);
}

export interface GrpcReply {
  /** 0 for OK, else the gRPC status code. */
  code: number;
  response?: any;
  details?: string;
}

/**
 * One unary call over the API's gRPC port (TLS, the API's CA) with a bearer token, the message
 * given as proto JSON.
 */
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
  const client = new Client(cp.api.grpcAddress, credentials.createSsl(Buffer.from(cp.caCertPem)));
  const md = new Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise<GrpcReply>((resolve) => {
      client.makeUnaryRequest(
        `/${service.typeName}/${method.name}`,
        (m: ReturnType<typeof fromJson>) => Buffer.from(toBinary(method.input, m as never)),
        (b: Buffer) => fromBinary(method.output, b),
        fromJson(method.input, request as JsonValue),
        md,
        { deadline: Date.now() + (o.deadlineMs ?? 10_000) },
        (err: ServiceError | null, res?: unknown) =>
          err ? resolve({ code: err.code, details: err.details }) : resolve({ code: 0, response: toJson(method.output, res as never) }),
      );
    });
  } finally {
    client.close();
  }
}
