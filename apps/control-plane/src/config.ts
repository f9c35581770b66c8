// Configuration both control-plane processes share (Temporal, the store, payload keys, the Consul
// catalogue) and what the worker alone needs (HCS_LIFECYCLE, the fleet's schedule), read once from
// the environment at start-up; a missing or malformed setting stops the process with a message
// naming it. The API's own settings are in api-config.ts, so the worker loads no API code.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONTROL_PLANE_TASK_QUEUE } from '../../../contract/temporal.js';
import type { DatabaseConfig } from '../../../store/database.js';
import { checkTemporalConnection, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import { parsePayloadKeys, type PayloadKey } from '../../../lib/payload-codec.js';
import { parseLifecycleConfig, type ParsedLifecycleConfig } from '../../worker/src/lifecycle-config.js';

/** A setting holding JSON, checked against `schema`. */
export const json = <T extends z.ZodType>(schema: T) =>
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

const databaseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('postgres'), url: z.string() }),
  z.object({ kind: z.literal('pglite'), dataDir: z.string() }),
]);
const catalogueSchema = z.array(z.object({ version: z.string(), status: z.enum(['AVAILABLE', 'RECOMMENDED', 'PREVIEW']) }));

export const workerEnvSchema = z.object({
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
  HCS_CONSUL_CATALOGUE: json(catalogueSchema),
  HCS_LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'),
  /** `id:base64key[,id:base64key...]`: Temporal payload encryption keys, the first one encrypts. */
  HCS_PAYLOAD_KEYS: z.string().min(1),
  /** JSON (see apps/worker/src/lifecycle-config.ts): what the worker needs to build clusters. */
  HCS_LIFECYCLE: z.string().optional(),
  /** Seconds between runs of the fleet's automatic patch upgrades (the worker's schedule); 0 turns it off. */
  HCS_FLEET_UPGRADE_INTERVAL_SECONDS: z.coerce.number().int().min(0).default(3600),
});

export interface WorkerProcessConfig {
  temporal: TemporalConnectionConfig;
  taskQueue: string;
  database: DatabaseConfig;
  catalogue: CatalogueEntry[];
  logLevel: string;
  payloadKeys: PayloadKey[];
  /** Present where the worker builds clusters. */
  lifecycle?: ParsedLifecycleConfig;
  /** 0: no automatic patch upgrades. */
  fleetUpgradeIntervalSeconds: number;
}

/** Parses `env` against `schema` or throws one error naming every bad setting. */
export function parseEnv<T extends z.ZodType>(schema: T, env: NodeJS.ProcessEnv): z.output<T> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/** The worker process's configuration (the API process reads it too, as part of its own). */
export function readWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerProcessConfig {
  return workerConfigFrom(parseEnv(workerEnvSchema, env));
}

export function workerConfigFrom(e: z.output<typeof workerEnvSchema>): WorkerProcessConfig {
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
    catalogue: e.HCS_CONSUL_CATALOGUE,
    logLevel: e.HCS_LOG_LEVEL,
    payloadKeys: parsePayloadKeys(e.HCS_PAYLOAD_KEYS),
    ...(e.HCS_LIFECYCLE ? { lifecycle: parseLifecycleConfig(e.HCS_LIFECYCLE) } : {}),
    fleetUpgradeIntervalSeconds: e.HCS_FLEET_UPGRADE_INTERVAL_SECONDS,
  };
}
