// The API process's configuration: everything the worker reads (config.ts) plus the API's own
// settings (authentication, listeners and their TLS, quotas, rate limits), read once from the
// environment at start-up; a missing or malformed setting stops the process with a message naming it.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { AuthConfig } from '../../api/src/auth.js';
import { requireTlsBeyondLoopback } from '../../api/src/grpc/credentials.js';
import { DEFAULT_RATE_LIMIT, type RateLimitSettings } from '../../api/src/rate-limit.js';
import { DEFAULT_LIMITS, type ServiceLimits } from '../../api/src/service/quotas.js';
import { DEFAULT_AUDIT_RETENTION_DAYS } from '../../api/src/audit.js';
import { readSecretFile } from '../../../lib/secret-file.js';
import { setting } from '../../../lib/settings.js';
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
  HCS_AUTH: setting(
    json(authSchema).optional(),
    'JSON: who may call (ARM certificate thumbprints, JWT issuers, operator token SHA-256 hashes); no secret in it. One of HCS_AUTH and HCS_AUTH_FILE',
  ),
  HCS_AUTH_FILE: setting(z.string().optional(), 'file (owner-only mode) holding the HCS_AUTH JSON, e.g. rendered from Vault', {
    secret: true,
  }),
  HCS_API_HOST: setting(z.string().default('127.0.0.1'), 'address the REST and gRPC listeners bind (beyond loopback only with TLS)'),
  HCS_API_PORT: setting(z.coerce.number().int().min(0).max(65535).default(0), 'REST port (0: a free one)'),
  HCS_GRPC_PORT: setting(z.coerce.number().int().min(0).max(65535).default(0), 'gRPC port (0: a free one)'),
  HCS_API_TLS_CERT_FILE: setting(z.string().optional(), "the API's TLS certificate (chain) file"),
  HCS_API_TLS_KEY_FILE: setting(z.string().optional(), "the API's TLS private key file (owner-only mode)", { secret: true }),
  HCS_API_TLS_CLIENT_CA_FILE: setting(
    z.string().optional(),
    "CAs ARM's client certificate chains to, for gRPC (default: the public roots); REST trusts by thumbprint alone",
  ),
  HCS_MAX_CLUSTERS_PER_SUBSCRIPTION: setting(
    z.coerce.number().int().min(1).default(DEFAULT_LIMITS.clustersPerSubscription),
    'quota: clusters per subscription',
  ),
  HCS_MAX_MANUAL_SNAPSHOTS_PER_CLUSTER: setting(
    z.coerce.number().int().min(1).default(DEFAULT_LIMITS.manualSnapshotsPerCluster),
    'quota: manual snapshots kept per cluster',
  ),
  HCS_FEDERATION_TOKEN_TTL_SECONDS: setting(
    z.coerce.number().int().min(1).max(86_400).default(DEFAULT_LIMITS.federationTokenTtlSeconds),
    'lifetime of federation tokens, seconds',
  ),
  HCS_RATE_LIMIT_PER_SECOND: setting(
    z.coerce.number().min(0).default(DEFAULT_RATE_LIMIT.requestsPerSecond),
    'per-caller sustained requests per second; 0 turns the limit off',
  ),
  HCS_RATE_LIMIT_BURST: setting(z.coerce.number().int().min(1).default(DEFAULT_RATE_LIMIT.burst), 'per-caller burst of requests'),
  HCS_AUDIT_LOG_RETENTION_DAYS: setting(
    z.coerce.number().int().min(1).max(36_500).default(DEFAULT_AUDIT_RETENTION_DAYS),
    'days audit log rows are kept; older ones are pruned hourly (the chain stays verifiable)',
  ),
  HCS_CODEC_CORS_ORIGINS: setting(
    z
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
    'origins (scheme://host:port, comma-separated) of the Temporal UIs that may call /codec from a browser',
  ),
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
  /** Days audit log rows are kept. */
  auditRetentionDays: number;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const e = parseEnv(apiEnvSchema, env);
  const tls =
    e.HCS_API_TLS_CERT_FILE && e.HCS_API_TLS_KEY_FILE
      ? {
          cert: readFileSync(e.HCS_API_TLS_CERT_FILE, 'utf8'),
          key: readSecretFile('HCS_API_TLS_KEY_FILE', e.HCS_API_TLS_KEY_FILE),
          ...(e.HCS_API_TLS_CLIENT_CA_FILE ? { clientCa: readFileSync(e.HCS_API_TLS_CLIENT_CA_FILE, 'utf8') } : {}),
        }
      : undefined;
  // gRPC (and REST) never serve plaintext beyond loopback: refuse here, naming the settings.
  requireTlsBeyondLoopback(e.HCS_API_HOST, tls);
  return {
    ...workerConfigFrom(e),
    auth: authFrom(e.HCS_AUTH, e.HCS_AUTH_FILE),
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
    auditRetentionDays: e.HCS_AUDIT_LOG_RETENTION_DAYS,
  };
}

/** The callers' configuration: inline (HCS_AUTH) or from its file (HCS_AUTH_FILE), exactly one. */
function authFrom(inline: AuthConfig | undefined, file: string | undefined): AuthConfig {
  if (inline && file) throw new Error('invalid configuration: HCS_AUTH and HCS_AUTH_FILE are both set; set one');
  if (inline) return inline;
  if (!file) throw new Error('invalid configuration: HCS_AUTH: set HCS_AUTH_FILE (a file holding the JSON) or HCS_AUTH');
  const parsed = json(authSchema).safeParse(readSecretFile('HCS_AUTH_FILE', file));
  if (!parsed.success)
    throw new Error(
      `invalid configuration: HCS_AUTH_FILE: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}
