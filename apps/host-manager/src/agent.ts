// The host-manager's loop. Every sync it reads the server's manifest from Blob
// (`<serverPrefix>manifest.json`), downloads the files it names, writes them owner-only,
// writes the host's own Consul settings (address, node name, zone), and then starts Consul,
// replaces it when the version changed, or reloads it when a file changed. It needs nothing but
// Blob: the control plane (API, worker, Temporal) may be down.
import { createServer, type Server } from 'node:http';
import { isAbsolute, join, normalize } from 'node:path';
import { z } from 'zod';
import type { BlobSource } from './blob-source.js';
import type { HostConfig } from './config.js';
import { ConsulProcess } from './consul-process.js';
import { ensurePrivateDir, writePrivateFile } from './files.js';

export const manifestSchema = z.object({
  consulVersion: z.string(),
  /** Increases with every change the control plane makes; reported in the status. */
  generation: z.number().int().min(0),
  files: z.array(z.object({ blob: z.string().min(1), path: z.string().min(1) })),
});
export type Manifest = z.infer<typeof manifestSchema>;

export interface HostStatus {
  instance: string;
  state: 'starting' | 'running' | 'error';
  consulVersion?: string;
  consulPid?: number;
  generation?: number;
  lastSyncAt?: string;
  lastError?: string;
}

export interface HostManager {
  /** One sync now (the loop calls it on its interval). */
  sync(): Promise<'started' | 'replaced' | 'reloaded' | 'unchanged'>;
  status(): HostStatus;
  /** The status endpoint's URL. */
  statusUrl: string;
  stop(): Promise<void>;
}

export async function startHostManager(config: HostConfig, blobs: BlobSource, log: (m: string) => void = () => {}): Promise<HostManager> {
  const configDir = join(config.dataDir, 'config');
  ensurePrivateDir(config.dataDir);
  ensurePrivateDir(configDir);
  ensurePrivateDir(join(config.dataDir, 'consul-data'));
  const consul = new ConsulProcess({ configDir, workDir: config.dataDir, logFile: join(config.dataDir, 'consul.log'), onEvent: log });
  const status: HostStatus = { instance: config.instanceName, state: 'starting' };
  let lastManifestEtag = '';
  let syncing: Promise<'started' | 'replaced' | 'reloaded' | 'unchanged'> | undefined;

  async function syncOnce(): Promise<'started' | 'replaced' | 'reloaded' | 'unchanged'> {
    const prefix = config.customData.blob.serverPrefix;
    const got = await blobs.get(`${prefix}manifest.json`);
    if (!got) throw new Error(`no manifest at ${prefix}manifest.json yet`);
    if (got.etag === lastManifestEtag && consul.running) return 'unchanged';
    const manifest = manifestSchema.parse(JSON.parse(got.content.toString('utf8')));
    let changed = false;
    for (const f of manifest.files) {
      const rel = normalize(f.path);
      if (isAbsolute(rel) || rel.startsWith('..')) throw new Error(`manifest path ${f.path} leaves the agent's folder`);
      const file = await blobs.get(f.blob);
      if (!file) throw new Error(`manifest names ${f.blob}, which does not exist`);
      changed = writePrivateFile(join(config.dataDir, rel), file.content) || changed;
    }
    changed = writePrivateFile(join(configDir, '00-host.json'), Buffer.from(JSON.stringify(hostSettings(config), null, 2))) || changed;
    const binary = config.consulBinaries[manifest.consulVersion];
    if (!binary)
      throw new Error(`this image has no Consul ${manifest.consulVersion} (it has ${Object.keys(config.consulBinaries).join(', ')})`);
    const outcome = await consul.ensure(manifest.consulVersion, binary);
    if (outcome === 'unchanged' && changed) consul.reload();
    lastManifestEtag = got.etag;
    Object.assign(status, {
      state: 'running',
      consulVersion: manifest.consulVersion,
      consulPid: consul.pid,
      generation: manifest.generation,
    });
    return outcome === 'unchanged' ? (changed ? 'reloaded' : 'unchanged') : outcome;
  }

  async function sync() {
    syncing ??= syncOnce()
      .then((r) => {
        status.lastSyncAt = new Date().toISOString();
        delete status.lastError;
        return r;
      })
      .catch((err: unknown) => {
        status.lastError = err instanceof Error ? err.message : String(err);
        if (!consul.running) status.state = 'error';
        log(`sync failed: ${status.lastError}`);
        throw err;
      })
      .finally(() => (syncing = undefined));
    return syncing;
  }

  const timer = setInterval(() => void sync().catch(() => {}), config.syncIntervalSeconds * 1000);
  const server: Server = createServer((req, res) => {
    const body = req.url === '/status' ? { ...status, consulPid: consul.pid, consulRunning: consul.running } : { error: 'not found' };
    res.writeHead(req.url === '/status' ? 200 : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(config.statusPort, config.instanceIp, r));
  const port = (server.address() as { port: number }).port;
  await sync().catch(() => {});

  return {
    sync,
    status: () => ({ ...status, ...(consul.pid ? { consulPid: consul.pid } : {}) }),
    statusUrl: `http://${config.instanceIp}:${port}/status`,
    async stop() {
      clearInterval(timer);
      await new Promise<void>((r) => server.close(() => r()));
      await consul.stop();
    },
  };
}

/** What only the host knows: its address, name and zone; the control plane sends the rest. */
function hostSettings(c: HostConfig) {
  return {
    node_name: c.instanceName,
    bind_addr: c.instanceIp,
    advertise_addr: c.instanceIp,
    client_addr: c.instanceIp,
    data_dir: join(c.dataDir, 'consul-data'),
    node_meta: { zone: c.customData.cluster.zone },
  };
}
