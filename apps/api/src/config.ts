// Configuration of the API and worker processes, read once from the environment at start-up;
// a missing or malformed setting stops the process with a message naming it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONTROL_PLANE_TASK_QUEUE } from '../../../contract/temporal.js';
import type { DatabaseConfig } from '../../../store/database.js';
import { checkTemporalConnection, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import type { AuthConfig } from './auth.js';
import { requireTlsBeyondLoopback } from './grpc/credentials.js';
import { DEFAULT_RATE_LIMIT, type RateLimitSettings } from './rate-limit.js';
import { DEFAULT_LIMITS, type ServiceLimits } from './service/quotas.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import { parsePayloadKeys, type PayloadKey } from '../../../lib/payload-codec.js';
import { parseLifecycleConfig, type ParsedLifecycleConfig } from '../../worker/src/lifecycle-config.js';

const json = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'is not valid JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema);

const role = z.enum(['reader', 'operator', 'admin']);
const authSchema = z.object({
  armCertificateThumbprints: z.array(z.string()).default([]),
  jwtIssuers: z
    .array(
      z
        .object({
          issuer: z.string(),
          audience: z.string(),
          jwksUri: z.string().url().optional(),
          jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
          kind: z.enum(['arm', 'user']),
          applicationIds: z.array(z.string().min(1)).optional(),
          algorithms: z.array(z.string()).optional(),
        })
        .refine((i) => i.kind !== 'arm' || (i.applicationIds?.length ?? 0) > 0, {
          message: "an ARM issuer needs applicationIds (ARM's application id: the appid/azp its tokens carry)",
          path: ['applicationIds'],
        }),
    )
    .default([]),
  operatorTokens: z
    .array(
      z.object({
        name: z.string(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/),
        role,
        subscriptions: z.union([z.literal('*'), z.array(z.string())]),
      }),
    )
    .default([]),
});
const databaseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('postgres'), url: z.string() }),
  z.object({ kind: z.literal('pglite'), dataDir: z.string() }),
]);
const catalogueSchema = z.array(z.object({ version: z.string(), status: z.enum(['AVAILABLE', 'RECOMMENDED', 'PREVIEW']) }));

const envSchema = z.object({
  HCS_TEMPORAL_ADDRESS: z.string(),
  HCS_TEMPORAL_NAMESPACE: z.string().default('default'),
  /** TLS to Temporal (required off loopback): its server CA, and a client certificate for mutual TLS. */
  HCS_TEMPORAL_TLS_CA_FILE: z.string().optional(),
  HCS_TEMPORAL_TLS_CERT_FILE: z.string().optional(),
  HCS_TEMPORAL_TLS_KEY_FILE: z.string().optional(),
  HCS_TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** Read from a file so the key is not in the process environment of every child. */
  HCS_TEMPORAL_API_KEY_FILE: z.string().optional(),
  HCS_TASK_QUEUE: z.string().min(1).default(CONTROL_PLANE_TASK_QUEUE),
  HCS_DATABASE: json(databaseSchema),
  HCS_AUTH: json(authSchema),
  HCS_CONSUL_CATALOGUE: json(catalogueSchema),
  HCS_API_HOST: z.string().default('127.0.0.1'),
  HCS_API_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HCS_GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HCS_API_TLS_CERT_FILE: z.string().optional(),
  HCS_API_TLS_KEY_FILE: z.string().optional(),
  /** CAs that ARM's client certificate chains to, for gRPC (default: the public roots); REST trusts by thumbprint alone. */
  HCS_API_TLS_CLIENT_CA_FILE: z.string().optional(),
  HCS_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  /** `id:base64key[,id:base64key...]`: Temporal payload encryption keys, the first one encrypts. */
  HCS_PAYLOAD_KEYS: z.string().min(1),
  /** JSON (see apps/worker/src/lifecycle-config.ts): what the worker needs to build clusters. */
  HCS_LIFECYCLE: z.string().optional(),
  /** Seconds between runs of the fleet's automatic patch upgrades (the worker's schedule); 0 turns it off. */
  HCS_FLEET_UPGRADE_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(3600),
  /** Quotas (apps/api/src/service/quotas.ts) and the federation token lifetime. */
  HCS_MAX_CLUSTERS_PER_SUBSCRIPTION: z.coerce.number().int().min(1).default(DEFAULT_LIMITS.clustersPerSubscription),
  HCS_MAX_MANUAL_SNAPSHOTS_PER_CLUSTER: z.coerce.number().int().min(1).default(DEFAULT_LIMITS.manualSnapshotsPerCluster),
  HCS_FEDERATION_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(DEFAULT_LIMITS.federationTokenTtlSeconds),
  /** Per-caller request rate (apps/api/src/rate-limit.ts): sustained requests per second (0 turns it off) and burst. */
  HCS_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(DEFAULT_RATE_LIMIT.requestsPerSecond),
  HCS_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT.burst),
});

export interface ControlPlaneConfig {
  temporal: TemporalConnectionConfig;
  taskQueue: string;
  database: DatabaseConfig;
  auth: AuthConfig;
  catalogue: CatalogueEntry[];
  api: { host: string; restPort: number; grpcPort: number; tls?: { cert: string; key: string; clientCa?: string } };
  logLevel: string;
  payloadKeys: PayloadKey[];
  /** Present where the worker builds clusters. */
  lifecycle?: ParsedLifecycleConfig;
  /** 0: no automatic patch upgrades. */
  fleetUpgradeIntervalSeconds: number;
  limits: ServiceLimits;
  /** requestsPerSecond 0: no rate limit. */
  rateLimit: RateLimitSettings;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  const tls =
    e.HCS_API_TLS_CERT_FILE && e.HCS_API_TLS_KEY_FILE
      ? {
          cert: readFileSync(e.HCS_API_TLS_CERT_FILE, 'utf8'),
          key: readFileSync(e.HCS_API_TLS_KEY_FILE, 'utf8'),
          ...(e.HCS_API_TLS_CLIENT_CA_FILE ? { clientCa: readFileSync(e.HCS_API_TLS_CLIENT_CA_FILE, 'utf8') } : {}),
        }
      : undefined;
  // gRPC (and REST) never serve plaintext beyond loopback: refuse here, naming the settings.
  requireTlsBeyondLoopback(e.HCS_API_HOST, tls);
  const temporalTls =
    e.HCS_TEMPORAL_TLS_CA_FILE || e.HCS_TEMPORAL_TLS_CERT_FILE || e.HCS_TEMPORAL_TLS_KEY_FILE || e.HCS_TEMPORAL_TLS_SERVER_NAME
      ? {
          ...(e.HCS_TEMPORAL_TLS_CA_FILE ? { serverRootCaPem: readFileSync(e.HCS_TEMPORAL_TLS_CA_FILE, 'utf8') } : {}),
          ...(e.HCS_TEMPORAL_TLS_CERT_FILE ? { clientCertPem: readFileSync(e.HCS_TEMPORAL_TLS_CERT_FILE, 'utf8') } : {}),
          ...(e.HCS_TEMPORAL_TLS_KEY_FILE ? { clientKeyPem: readFileSync(e.HCS_TEMPORAL_TLS_KEY_FILE, 'utf8') } : {}),
          ...(e.HCS_TEMPORAL_TLS_SERVER_NAME ? { serverName: e.HCS_TEMPORAL_TLS_SERVER_NAME } : {}),
        }
      : undefined;
  const temporal: TemporalConnectionConfig = {
    address: e.HCS_TEMPORAL_ADDRESS,
    namespace: e.HCS_TEMPORAL_NAMESPACE,
    ...(temporalTls ? { tls: temporalTls } : {}),
    ...(e.HCS_TEMPORAL_API_KEY_FILE ? { apiKey: readFileSync(e.HCS_TEMPORAL_API_KEY_FILE, 'utf8').trim() } : {}),
  };
  // Refuse at start-up, naming the setting, rather than at the first connection.
  checkTemporalConnection(temporal);
  return {
    temporal,
    taskQueue: e.HCS_TASK_QUEUE,
    database: e.HCS_DATABASE,
    auth: e.HCS_AUTH,
    catalogue: e.HCS_CONSUL_CATALOGUE,
    api: { host: e.HCS_API_HOST, restPort: e.HCS_API_PORT, grpcPort: e.HCS_GRPC_PORT, ...(tls ? { tls } : {}) },
    logLevel: e.HCS_LOG_LEVEL,
    payloadKeys: parsePayloadKeys(e.HCS_PAYLOAD_KEYS),
    ...(e.HCS_LIFECYCLE ? { lifecycle: parseLifecycleConfig(e.HCS_LIFECYCLE) } : {}),
    fleetUpgradeIntervalSeconds: e.HCS_FLEET_UPGRADE_INTERVAL_SECONDS,
    limits: {
      clustersPerSubscription: e.HCS_MAX_CLUSTERS_PER_SUBSCRIPTION,
      manualSnapshotsPerCluster: e.HCS_MAX_MANUAL_SNAPSHOTS_PER_CLUSTER,
      federationTokenTtlSeconds: e.HCS_FEDERATION_TOKEN_TTL_SECONDS,
    },
    rateLimit: { requestsPerSecond: e.HCS_RATE_LIMIT_PER_SECOND, burst: e.HCS_RATE_LIMIT_BURST },
  };
}
