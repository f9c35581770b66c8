// What a server VM knows about itself: the cloud-init customData (blob location, identity, its
// place in the cluster; never a secret) and where to keep its files.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

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
  /** Port of the local status endpoint. */
  statusPort: number;
}

/** Reads the configuration; a missing or malformed value stops the agent with its name. */
export function readHostConfig(env: NodeJS.ProcessEnv = process.env): HostConfig {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`host-manager: ${name} is not set`);
    return v;
  };
  const customDataFile = need('HCS_CUSTOM_DATA_FILE');
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
    instanceIp: need('HCS_INSTANCE_IP'),
    instanceName: env.HCS_INSTANCE_NAME ?? parsed.data.cluster.name,
    // On a twin instance its disk folder; on an Azure VM a fixed path.
    dataDir: env.HCS_HOST_DATA_DIR ?? env.HCS_INSTANCE_DISK ?? '/var/lib/hcs',
    consulBinaries: JSON.parse(need('HCS_CONSUL_BINARIES')) as Record<string, string>,
    syncIntervalSeconds: Number(env.HCS_SYNC_INTERVAL_SECONDS ?? 10),
    statusPort: Number(env.HCS_STATUS_PORT ?? 9701),
  };
}
