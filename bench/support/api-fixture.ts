// What the API benchmark and its GET profile share: the callers (an ARM bearer token signed by a
// key of this run, verified against its JWKS as ARM's tokens are, and an operator token), the
// options every benchmarked API gets (the process's own logger at info, writing to the null
// device, and a per-caller rate limit set too high to refuse, so both run as in production), the
// bare node:http handler beside which the API is measured, and the cluster the GETs read.
import { randomBytes, randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { devNull } from 'node:os';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import type { AuthConfig } from '../../apps/api/src/auth.js';
import { sha256Hex } from '../../apps/api/src/auth.js';
import { createLogger } from '../../lib/logger.js';
import { SecretBox } from '../../lib/secret-box.js';

export interface BenchCallers {
  auth: AuthConfig;
  /** Authorization headers: ARM's bearer JWT and an admin operator token. */
  arm: Record<string, string>;
  operator: Record<string, string>;
}

const ISSUER = 'https://sts.bench.invalid/arm-tenant/';
const AUDIENCE = 'https://hcs.bench.invalid';
const ARM_APP_ID = randomUUID();

/** A fresh signing key, its JWKS in the API's configuration, and one token of each kind. */
export async function benchCallers(): Promise<BenchCallers> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'RS256', use: 'sig' };
  const armJwt = await new SignJWT({ appid: ARM_APP_ID, oid: randomUUID() })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench' })
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('2h')
    .sign(privateKey);
  const operatorToken = `hcsop_bench_${randomUUID()}`;
  const json = { 'content-type': 'application/json' };
  return {
    auth: {
      armCertificateThumbprints: [],
      jwtIssuers: [{ issuer: ISSUER, audience: AUDIENCE, jwks: { keys: [jwk] }, kind: 'arm', applicationIds: [ARM_APP_ID] }],
      operatorTokens: [{ name: 'bench', sha256: sha256Hex(operatorToken), role: 'admin', subscriptions: '*' }],
    },
    arm: { ...json, authorization: `Bearer ${armJwt}` },
    operator: { ...json, authorization: `Bearer ${operatorToken}` },
  };
}

/** The options of every benchmarked API besides its store, starter and codec. */
export function benchApiOptions(callers: BenchCallers, consulVersions: string[]) {
  return {
    auth: callers.auth,
    catalogue: consulVersions.map((v) => ({ version: v, status: 'AVAILABLE' as const })),
    // The production logger at the production level: one line per request, to the null device.
    logger: createLogger({ service: 'api', level: 'info', destination: pino.destination({ dest: openSync(devNull, 'w'), sync: false }) }),
    sealer: new SecretBox([{ id: 'bench', key: randomBytes(32) }]),
    // Every PUT creates a cluster in one subscription: far more than the default quota.
    limits: { clustersPerSubscription: Number.MAX_SAFE_INTEGER },
    // The per-caller bucket is taken on every request as in production, but never runs dry.
    rateLimit: { requestsPerSecond: 1e9, burst: 1e9 },
  };
}

/**
 * node:http answering every request with `body` (a PUT's body is parsed first): the reference.
 * With `read`, each request first awaits it (one store read: the floor of any handler that reads
 * the store per request).
 */
export async function startBare(body: () => string, read?: () => Promise<unknown>): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'PUT') JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const answer = () => {
        res.writeHead(req.method === 'PUT' ? 201 : 200, { 'content-type': 'application/json', 'x-ms-request-id': randomUUID() });
        res.end(body());
      };
      if (!read) return answer();
      read().then(answer, (err: unknown) => res.writeHead(500).end(String(err)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

export const API_VERSION_QUERY = 'api-version=2026-11-01';

export function clustersPath(subscriptionId: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/rg-bench/providers/HCS.Consul/clusters`;
}

export function clusterBody(consulVersion: string, cidr: string): string {
  return JSON.stringify({ location: 'westeurope', properties: { consulVersion, network: { cidr } } });
}

/**
 * The PUT load's requests: each PUT creates a new cluster with its own /24, so each one is a real
 * accept (the overlap check and quota read grow with the subscription), in the subscriptions in
 * turn.
 */
export function nextClusterPut(subscriptionIds: string | string[], consulVersion: string): () => { path: string; body: string } {
  const subs = typeof subscriptionIds === 'string' ? [subscriptionIds] : subscriptionIds;
  let n = 0;
  return () => {
    n++;
    return {
      path: `${clustersPath(subs[n % subs.length]!)}/c-${n}?${API_VERSION_QUERY}`,
      body: clusterBody(consulVersion, `10.${1 + Math.floor(n / 250)}.${n % 250}.0/24`),
    };
  };
}

/** Creates the cluster the GETs read (PUT, answered 201) and returns its path and its GET body. */
export async function seedCluster(
  restUrl: string,
  subscriptionId: string,
  headers: Record<string, string>,
  consulVersion: string,
): Promise<{ path: string; body: string }> {
  const path = `${clustersPath(subscriptionId)}/read-me?${API_VERSION_QUERY}`;
  const put = await fetch(`${restUrl}${path}`, { method: 'PUT', headers, body: clusterBody(consulVersion, '10.0.0.0/16') });
  if (put.status !== 201) throw new Error(`seeding the cluster: PUT answered ${put.status}: ${await put.text()}`);
  const get = await fetch(`${restUrl}${path}`, { headers });
  if (get.status !== 200) throw new Error(`reading the seeded cluster: GET answered ${get.status}`);
  return { path, body: await get.text() };
}
