// What the attack tests share: REST calls against a running control plane, as any client would
// make them (HTTPS with the API's CA), and the cluster fixtures (gRPC calls: grpc-support.ts).
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
