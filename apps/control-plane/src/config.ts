// Configuration both control-plane processes share (Temporal, the store, payload keys, the Consul
// catalogue) and what the worker alone needs (HCS_LIFECYCLE, the fleet's schedule), read once from
// the environment at start-up; a missing or malformed setting stops the process with a message
// naming it. Secrets come from files (lib/secret-file.ts), never from the environment itself.
// Each setting carries its documentation (docs/configuration.md is checked against it). The API's
// own settings are in api-config.ts, so the worker loads no API code.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONTROL_PLANE_TASK_QUEUE } from '../../../contract/temporal.js';
import type { DatabaseConfig } from '../../../store/database.js';
import { checkTemporalConnection, type TemporalConnectionConfig } from '../../../lib/temporal-connection.js';
import type { CatalogueEntry } from '../../../domain/versions.js';
import { parsePayloadKeys, type PayloadKey } from '../../../lib/payload-codec.js';
import { parseLifecycleConfig, type ParsedLifecycleConfig } from '../../worker/src/lifecycle-config.js';
import { parseMeteringConfig, type ParsedMeteringConfig } from '../../worker/src/metering-config.js';
import { readSecretFile } from '../../../lib/secret-file.js';
import { json, setting } from '../../../lib/settings.js';
import { tracingEnvSchema } from '../../../lib/tracing-settings.js';

/** A setting holding JSON (lib/settings.ts), re-exported for api-config.ts. */
export { json };

const databaseSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('postgres'), url: z.string() }),
  z.object({ kind: z.literal('pglite'), dataDir: z.string() }),
]);
const catalogueSchema = z.array(z.object({ version: z.string(), status: z.enum(['AVAILABLE', 'RECOMMENDED', 'PREVIEW']) }));

export const workerEnvSchema = z.object({
  HCS_TEMPORAL_ADDRESS: setting(z.string(), 'Temporal frontend, host:port'),
  HCS_TEMPORAL_NAMESPACE: setting(z.string().default('default'), 'Temporal namespace'),
  HCS_TEMPORAL_TLS_CA_FILE: setting(z.string().optional(), "CA of Temporal's frontend certificate (TLS is required off loopback)"),
  HCS_TEMPORAL_TLS_CERT_FILE: setting(z.string().optional(), 'client certificate for mutual TLS to Temporal'),
  HCS_TEMPORAL_TLS_KEY_FILE: setting(z.string().optional(), "that certificate's private key file", { secret: true }),
  HCS_TEMPORAL_TLS_SERVER_NAME: setting(z.string().optional(), "name to check in Temporal's certificate, when not the address's host"),
  HCS_TEMPORAL_API_KEY_FILE: setting(z.string().optional(), 'file holding a Temporal API key (owner-only mode)', { secret: true }),
  HCS_TASK_QUEUE: setting(z.string().min(1).default(CONTROL_PLANE_TASK_QUEUE), 'task queue of the control-plane workflows'),
  HCS_DATABASE: setting(json(databaseSchema), 'the store, JSON: {"kind":"postgres","url":...} or {"kind":"pglite","dataDir":...}'),
  HCS_CONSUL_CATALOGUE: setting(json(catalogueSchema), 'Consul versions offered, JSON: [{"version","status"}]'),
  HCS_LOG_LEVEL: setting(z.enum(['trace', 'debug', 'info', 'warn', 'error']).default('info'), 'log level'),
  HCS_PAYLOAD_KEYS_FILE: setting(
    z.string().min(1),
    'file (owner-only mode) holding the Temporal payload encryption keys, `id:base64key[,id:base64key...]`; the first encrypts',
    { secret: true },
  ),
  HCS_LIFECYCLE: setting(
    z.string().optional(),
    'JSON: what the worker needs to build clusters (its fields below; secrets as file paths); unset: stand-in workflows only',
  ),
  HCS_METERING: setting(
    z.string().optional(),
    'JSON: Marketplace metering (its fields below; secrets as file paths); unset: the worker meters nothing',
  ),
  HCS_FLEET_UPGRADE_INTERVAL_SECONDS: setting(
    z.coerce.number().int().min(0).default(3600),
    "seconds between runs of the fleet's automatic patch upgrades; 0 turns them off",
  ),
  HCS_SERVER_HEALTH_CHECK_SECONDS: setting(
    z.coerce.number().int().min(0).default(60),
    "seconds between rounds of the servers' health check (workflows/server-health.ts), which repairs a server down too long; 0 turns it off",
  ),
  HCS_SERVER_REPAIR_AFTER_SECONDS: setting(
    z.coerce.number().int().min(30).default(300),
    'a server not an alive member for this long is repaired without a human (reimaged with a quorum left, else restarted), one at a time',
  ),
  HCS_SAFETY_FIRING_SLOT_SECONDS: setting(
    z.coerce
      .number()
      .int()
      .min(0)
      .refine((n) => n === 0 || 3600 % n === 0, 'must be 0 or divide 3600')
      .default(0),
    '0: a Temporal schedule per cluster for its snapshots and one for its certificate checks; N (divides 3600): one fleet schedule every N s starts the firings due (activities/fleet-safety.ts)',
  ),
  HCS_WORKER_OPS_HOST: setting(
    z.string().min(1).default('127.0.0.1'),
    "address of the worker's ops server (/metrics, /healthz, /readyz); loopback unless the scheduler's network needs more",
  ),
  HCS_WORKER_OPS_PORT: setting(
    z.coerce.number().int().min(0).max(65535).optional(),
    "port of the worker's ops server; 0 picks a free one (logged); unset: no ops server",
  ),
  // Read first by the process entry (lib/tracing-settings.ts), before the rest loads; here to be checked and documented with the rest.
  ...tracingEnvSchema.shape,
});

/** Settings no longer read, each with what replaces it: a process given one stops, naming it (a secret left inline is a mistake to point out, not to ignore). */
export const RETIRED_SETTINGS: Record<string, string> = {
  HCS_PAYLOAD_KEYS: 'put the keys in a file (owner-only mode) and name it in HCS_PAYLOAD_KEYS_FILE',
};

export interface WorkerProcessConfig {
  temporal: TemporalConnectionConfig;
  taskQueue: string;
  database: DatabaseConfig;
  catalogue: CatalogueEntry[];
  logLevel: string;
  payloadKeys: PayloadKey[];
  /** Present where the worker builds clusters. */
  lifecycle?: ParsedLifecycleConfig;
  /** Marketplace metering (apps/worker/src/metering-config.ts); none when absent. */
  metering?: ParsedMeteringConfig;
  /** 0: no automatic patch upgrades. */
  fleetUpgradeIntervalSeconds: number;
  /** 0: per-cluster safety schedules; else the fleet schedule's slot (activities/fleet-safety.ts). */
  safetyFiringSlotSeconds: number;
  /** The servers' health check: every this many seconds (0: off), repairing a server down for repairAfterSeconds. */
  serverHealth: { everySeconds: number; repairAfterSeconds: number };
  /** The worker's ops server (apps/worker/src/ops-server.ts); none when absent. */
  ops?: { host: string; port: number };
}

/** Parses `env` against `schema` or throws one error naming every bad (or retired) setting. */
export function parseEnv<T extends z.ZodType>(
  schema: T,
  env: NodeJS.ProcessEnv,
  retired: Record<string, string> = RETIRED_SETTINGS,
): z.output<T> {
  const problems = Object.entries(retired)
    .filter(([name]) => env[name] !== undefined)
    .map(([name, instead]) => `${name}: is no longer read; ${instead}`);
  const parsed = schema.safeParse(env);
  if (!parsed.success) problems.push(...parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  if (problems.length || !parsed.success) throw new Error(`invalid configuration: ${problems.join('; ')}`);
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
          ...(e.HCS_TEMPORAL_TLS_KEY_FILE
            ? { clientKeyPem: readSecretFile('HCS_TEMPORAL_TLS_KEY_FILE', e.HCS_TEMPORAL_TLS_KEY_FILE) }
            : {}),
          ...(e.HCS_TEMPORAL_TLS_SERVER_NAME ? { serverName: e.HCS_TEMPORAL_TLS_SERVER_NAME } : {}),
        }
      : undefined;
  const temporal: TemporalConnectionConfig = {
    address: e.HCS_TEMPORAL_ADDRESS,
    namespace: e.HCS_TEMPORAL_NAMESPACE,
    ...(temporalTls ? { tls: temporalTls } : {}),
    ...(e.HCS_TEMPORAL_API_KEY_FILE ? { apiKey: readSecretFile('HCS_TEMPORAL_API_KEY_FILE', e.HCS_TEMPORAL_API_KEY_FILE) } : {}),
  };
  // Refuse at start-up, naming the setting, rather than at the first connection.
  checkTemporalConnection(temporal);
  return {
    temporal,
    taskQueue: e.HCS_TASK_QUEUE,
    database: e.HCS_DATABASE,
    catalogue: e.HCS_CONSUL_CATALOGUE,
    logLevel: e.HCS_LOG_LEVEL,
    payloadKeys: payloadKeysFrom(e.HCS_PAYLOAD_KEYS_FILE),
    ...(e.HCS_LIFECYCLE ? { lifecycle: parseLifecycleConfig(e.HCS_LIFECYCLE) } : {}),
    ...(e.HCS_METERING ? { metering: parseMeteringConfig(e.HCS_METERING) } : {}),
    fleetUpgradeIntervalSeconds: e.HCS_FLEET_UPGRADE_INTERVAL_SECONDS,
    safetyFiringSlotSeconds: e.HCS_SAFETY_FIRING_SLOT_SECONDS,
    serverHealth: { everySeconds: e.HCS_SERVER_HEALTH_CHECK_SECONDS, repairAfterSeconds: e.HCS_SERVER_REPAIR_AFTER_SECONDS },
    ...(e.HCS_WORKER_OPS_PORT !== undefined ? { ops: { host: e.HCS_WORKER_OPS_HOST, port: e.HCS_WORKER_OPS_PORT } } : {}),
  };
}

function payloadKeysFrom(file: string): PayloadKey[] {
  try {
    return parsePayloadKeys(readSecretFile('HCS_PAYLOAD_KEYS_FILE', file));
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(message.startsWith('HCS_PAYLOAD_KEYS_FILE') ? message : `HCS_PAYLOAD_KEYS_FILE: ${message}`);
  }
}
