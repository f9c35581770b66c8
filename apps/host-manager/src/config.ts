// What a server VM knows about itself: the cloud-init customData (blob location, identity, its
// place in the cluster; never a secret) and where to keep its files.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { json, setting } from '../../../lib/settings.js';
import { LOG_LEVELS, type LogLevel } from '../../../lib/logger.js';

export const customDataSchema = z.object({
  blob: z.object({ accountUrl: z.string().url(), container: z.string().min(3), serverPrefix: z.string().regex(/^[a-z0-9/-]+\/$/) }),
  identity: z.object({ clientId: z.string().min(1) }),
  cluster: z.object({ name: z.string(), datacenter: z.string(), serverIndex: z.number().int().min(0), zone: z.string() }),
});
export type CustomData = z.infer<typeof customDataSchema>;

export interface HostConfig {
  customData: CustomData;
  /** The VM's private address; Consul binds to it. */
  instanceIp: string;
  instanceName: string;
  /** Root of the agent's state: config, TLS, Consul data (0700). */
  dataDir: string;
  /** Consul binaries by version (the image carries every supported version). */
  consulBinaries: Record<string, string>;
  /** Seconds between checks of Blob for new files. */
  syncIntervalSeconds: number;
  /**
   * Milliseconds between checks while the VM waits for its first files (a new server holds up
   * its cluster's create until it runs), for at most `bootstrapWindowSeconds` after the agent
   * starts; the regular interval after that, and once any set has been applied.
   */
  bootstrapSyncMs: number;
  bootstrapWindowSeconds: number;
  /** Port of the local status endpoint. */
  statusPort: number;
  /** Level of the agent's JSON log lines (info when absent). */
  logLevel?: LogLevel;
}

/** The agent's environment (set by cloud-init on a VM, by the twin's runner locally); each setting documents itself. */
export const hostEnvSchema = z.object({
  HCS_CUSTOM_DATA_FILE: setting(
    z.string().min(1),
    'file holding the cloud-init customData JSON (blob location, identity, place in the cluster)',
  ),
  HCS_INSTANCE_IP: setting(z.string().min(1), "the VM's private address; Consul binds to it"),
  HCS_INSTANCE_NAME: setting(z.string().min(1).optional(), "the instance's name (default: the cluster's name)"),
  HCS_HOST_DATA_DIR: setting(z.string().min(1).optional(), "root of the agent's state (default: HCS_INSTANCE_DISK, else /var/lib/hcs)"),
  HCS_INSTANCE_DISK: setting(
    z.string().min(1).optional(),
    "the twin's instance disk folder, the state root when HCS_HOST_DATA_DIR is unset",
  ),
  HCS_CONSUL_BINARIES: setting(
    json(z.record(z.string(), z.string())),
    'JSON: Consul binary path by version (the image carries every supported version)',
  ),
  HCS_SYNC_INTERVAL_SECONDS: setting(z.coerce.number().positive().default(10), 'seconds between checks of Blob for new files'),
  HCS_BOOTSTRAP_SYNC_MS: setting(
    z.coerce.number().int().min(50).default(250),
    "milliseconds between checks of Blob while the VM waits for its first files (a new server holds up its cluster's create)",
  ),
  HCS_BOOTSTRAP_WINDOW_SECONDS: setting(
    z.coerce.number().min(0).default(600),
    'how long after the agent starts those quick checks go on at most; then every HCS_SYNC_INTERVAL_SECONDS',
  ),
  HCS_STATUS_PORT: setting(z.coerce.number().int().min(0).max(65535).default(9701), 'port of the local status endpoint'),
  HCS_LOG_LEVEL: setting(z.enum(LOG_LEVELS).default('info'), "level of the agent's JSON log lines"),
});

/** Reads the configuration; a missing or malformed value stops the agent with its name. */
export function readHostConfig(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const e = hostEnvSchema.safeParse(env);
  if (!e.success)
    throw new Error(`host-manager: invalid configuration: ${e.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const customDataFile = e.data.HCS_CUSTOM_DATA_FILE;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(customDataFile, 'utf8'));
  } catch (err) {
    throw new Error(`host-manager: customData in ${customDataFile} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const parsed = customDataSchema.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `host-manager: customData is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return {
    customData: parsed.data,
    instanceIp: e.data.HCS_INSTANCE_IP,
    instanceName: e.data.HCS_INSTANCE_NAME ?? parsed.data.cluster.name,
    // On a twin instance its disk folder; on an Azure VM a fixed path.
    dataDir: e.data.HCS_HOST_DATA_DIR ?? e.data.HCS_INSTANCE_DISK ?? '/var/lib/hcs',
    consulBinaries: e.data.HCS_CONSUL_BINARIES,
    syncIntervalSeconds: e.data.HCS_SYNC_INTERVAL_SECONDS,
    bootstrapSyncMs: e.data.HCS_BOOTSTRAP_SYNC_MS,
    bootstrapWindowSeconds: e.data.HCS_BOOTSTRAP_WINDOW_SECONDS,
    statusPort: e.data.HCS_STATUS_PORT,
    logLevel: e.data.HCS_LOG_LEVEL,
  };
}
