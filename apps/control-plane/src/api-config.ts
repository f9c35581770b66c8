// The API process's configuration: everything the worker reads (config.ts) plus the API's own
// settings (authentication, listeners and their TLS, quotas, rate limits), read once from the
// environment at start-up; a missing or malformed setting stops the process with a message naming it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AuthConfig } from '../../api/src/auth.js';
import { requireTlsBeyondLoopback } from '../../api/src/grpc/credentials.js';
import { DEFAULT_RATE_LIMIT, type RateLimitSettings } from '../../api/src/rate-limit.js';
import { DEFAULT_LIMITS, type ServiceLimits } from '../../api/src/service/quotas.js';
import { json, parseEnv, workerConfigFrom, workerEnvSchema, type WorkerProcessConfig } from './config.js';

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

/** Every setting the API process reads: the worker's and its own (nomad/ job checks read the keys). */
export const apiEnvSchema = workerEnvSchema.extend({
  HCS_AUTH: json(authSchema),
  HCS_API_HOST: z.string().default('127.0.0.1'),
  HCS_API_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HCS_GRPC_PORT: z.coerce.number().int().min(0).max(65535).default(0),
  HCS_API_TLS_CERT_FILE: z.string().optional(),
  HCS_API_TLS_KEY_FILE: z.string().optional(),
  /** CAs that ARM's client certificate chains to, for gRPC (default: the public roots); REST trusts by thumbprint alone. */
  HCS_API_TLS_CLIENT_CA_FILE: z.string().optional(),
  /** Quotas (apps/api/src/service/quotas.ts) and the federation token lifetime. */
  HCS_MAX_CLUSTERS_PER_SUBSCRIPTION: z.coerce.number().int().min(1).default(DEFAULT_LIMITS.clustersPerSubscription),
  HCS_MAX_MANUAL_SNAPSHOTS_PER_CLUSTER: z.coerce.number().int().min(1).default(DEFAULT_LIMITS.manualSnapshotsPerCluster),
  HCS_FEDERATION_TOKEN_TTL_SECONDS: z.coerce.number().int().min(1).max(86_400).default(DEFAULT_LIMITS.federationTokenTtlSeconds),
  /** Per-caller request rate (apps/api/src/rate-limit.ts): sustained requests per second (0 turns it off) and burst. */
  HCS_RATE_LIMIT_PER_SECOND: z.coerce.number().min(0).default(DEFAULT_RATE_LIMIT.requestsPerSecond),
  HCS_RATE_LIMIT_BURST: z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT.burst),
  /** Origins (scheme://host:port, comma-separated) of the Temporal UIs that may call /codec from a browser. */
  HCS_CODEC_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((s, ctx) => {
      const origins = s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean);
      for (const o of origins) {
        let origin: string | undefined;
        try {
          origin = new URL(o).origin;
        } catch {
          /* reported below */
        }
        if (origin !== o)
          ctx.addIssue({ code: 'custom', message: `${JSON.stringify(o)} is not an origin (scheme://host[:port], no path)` });
      }
      return origins;
    }),
});

/** The API process's configuration; the embedded process (API and worker in one) reads this too. */
export interface ControlPlaneConfig extends WorkerProcessConfig {
  auth: AuthConfig;
  api: {
    host: string;
    restPort: number;
    grpcPort: number;
    tls?: { cert: string; key: string; clientCa?: string };
    /** Temporal UI origins allowed to call /codec from a browser. */
    codecCorsOrigins: string[];
  };
  limits: ServiceLimits;
  /** requestsPerSecond 0: no rate limit. */
  rateLimit: RateLimitSettings;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const e = parseEnv(apiEnvSchema, env);
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
  return {
    ...workerConfigFrom(e),
    auth: e.HCS_AUTH,
    api: {
      host: e.HCS_API_HOST,
      restPort: e.HCS_API_PORT,
      grpcPort: e.HCS_GRPC_PORT,
      ...(tls ? { tls } : {}),
      codecCorsOrigins: e.HCS_CODEC_CORS_ORIGINS,
    },
    limits: {
      clustersPerSubscription: e.HCS_MAX_CLUSTERS_PER_SUBSCRIPTION,
      manualSnapshotsPerCluster: e.HCS_MAX_MANUAL_SNAPSHOTS_PER_CLUSTER,
      federationTokenTtlSeconds: e.HCS_FEDERATION_TOKEN_TTL_SECONDS,
    },
    rateLimit: { requestsPerSecond: e.HCS_RATE_LIMIT_PER_SECOND, burst: e.HCS_RATE_LIMIT_BURST },
  };
}
