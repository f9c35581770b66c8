// The host-manager's loop. Every sync it reads the server's manifest from Blob
// (`<serverPrefix>manifest.json`) and every file it names, records that complete set as the
// last-good copy on the VM's disk, writes the files owner-only with the host's own Consul
// settings (address, node name, zone), and then starts Consul, replaces it when the version
// changed, or reloads it when a file changed. It needs nothing from the control plane (API,
// worker, Temporal, OpenBao), and not even Blob once it has a last-good copy: when Blob cannot
// be read, Consul keeps running, and an agent that starts (a restarted VM) runs Consul from that
// copy, reporting `source: 'local'` and the Blob problem in its status until Blob answers again.
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import type { BlobSource } from './blob-source.js';
import type { HostConfig } from './config.js';
import { ConsulProcess } from './consul-process.js';
import { ensurePrivateDir, writePrivateFile } from './files.js';
import { loadLastGood, saveLastGood, type FileSet } from './last-good.js';
import { parseManifest, safeRelativePath, type Manifest } from './manifest.js';

export { manifestSchema, type Manifest } from './manifest.js';

export type SyncOutcome = 'started' | 'replaced' | 'reloaded' | 'unchanged';

export interface HostStatus {
  instance: string;
  /** `left`: Consul left its cluster gracefully (a scale-down) and stays down (consul-process.ts). */
  state: 'starting' | 'running' | 'left' | 'error';
  /**
   * Where the files Consul runs with were last confirmed: `blob` after a sync that read Blob,
   * `local` while Blob cannot be read and the agent keeps (or started) Consul on its last-good copy.
   */
  source?: 'blob' | 'local';
  consulVersion?: string;
  consulPid?: number;
  generation?: number;
  /** The last sync that read Blob. */
  lastSyncAt?: string;
  lastError?: string;
}

export interface HostManager {
  /** One sync now (the loop calls it on its cadence). */
  sync(): Promise<SyncOutcome>;
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
  let appliedEtag = '';
  let syncing: Promise<SyncOutcome> | undefined;

  const binaryFor = (m: Manifest) => {
    const binary = config.consulBinaries[m.consulVersion];
    if (!binary) throw new Error(`this image has no Consul ${m.consulVersion} (it has ${Object.keys(config.consulBinaries).join(', ')})`);
    return binary;
  };

  /** A blob, or a "Blob unreachable" error (network, TLS, identity, storage errors alike). */
  async function read(name: string) {
    try {
      return await blobs.get(name);
    } catch (err) {
      throw new Error(`Blob unreachable: ${briefly(err)}`);
    }
  }

  /** The whole set Blob holds now, in memory; nothing is written until every file is here. */
  async function fetchFromBlob(): Promise<FileSet | 'unchanged'> {
    const name = `${config.customData.blob.serverPrefix}manifest.json`;
    const got = await read(name);
    if (!got) throw new Error(`no manifest at ${name} yet`);
    if (got.etag === appliedEtag && (consul.running || consul.left)) return 'unchanged';
    const manifest = parseManifest(got.content);
    for (const f of manifest.files) safeRelativePath(f.path);
    binaryFor(manifest);
    // The files side by side: a first start waits on this read.
    const files: FileSet['files'] = await Promise.all(
      manifest.files.map(async (f) => {
        const file = await read(f.blob);
        if (!file) throw new Error(`manifest names ${f.blob}, which does not exist`);
        return { blob: f.blob, path: f.path, content: file.content };
      }),
    );
    return { etag: got.etag, manifest, files };
  }

  /** Places a complete set and makes Consul run it (start, replace or reload). */
  async function apply(set: FileSet): Promise<SyncOutcome> {
    const binary = binaryFor(set.manifest);
    let changed = false;
    for (const f of set.files) changed = writePrivateFile(join(config.dataDir, safeRelativePath(f.path)), f.content) || changed;
    changed = writePrivateFile(join(configDir, '00-host.json'), Buffer.from(JSON.stringify(hostSettings(config), null, 2))) || changed;
    const outcome = await consul.ensure(set.manifest.consulVersion, binary);
    if (outcome === 'unchanged' && changed) consul.reload();
    appliedEtag = set.etag;
    Object.assign(status, {
      state: consul.left ? 'left' : 'running',
      consulVersion: set.manifest.consulVersion,
      consulPid: consul.pid,
      generation: set.manifest.generation,
    });
    return outcome === 'unchanged' ? (changed ? 'reloaded' : 'unchanged') : outcome;
  }

  async function syncOnce(): Promise<SyncOutcome> {
    let set: FileSet | 'unchanged';
    try {
      set = await fetchFromBlob();
    } catch (err) {
      // What runs keeps running; an agent that runs nothing (just started, say) starts Consul
      // from its last-good copy. The sync still fails, so the status carries the reason.
      if (!consul.running && !consul.left) await startFromLastGood(briefly(err));
      status.source = 'local';
      throw err;
    }
    status.source = 'blob';
    if (set === 'unchanged') return 'unchanged';
    // Recorded before the live files change: a crash in between restarts from this same set.
    saveLastGood(config.dataDir, set);
    return apply(set);
  }

  async function startFromLastGood(reason: string): Promise<void> {
    let local: FileSet | undefined;
    try {
      local = loadLastGood(config.dataDir);
    } catch (err) {
      throw new Error(`${reason}; ${briefly(err)}, so Consul was not started`);
    }
    if (!local) throw new Error(`${reason}; no last-good copy on this VM yet, so Consul was not started`);
    await apply(local);
    log(`Blob could not be read (${reason}); Consul runs from the last-good copy (generation ${local.manifest.generation})`);
  }

  async function sync() {
    syncing ??= syncOnce()
      .then((r) => {
        status.lastSyncAt = new Date().toISOString();
        delete status.lastError;
        return r;
      })
      .catch((err: unknown) => {
        const error = briefly(err);
        // Once per failure, not once per check (a new VM checks every few hundred ms for its files).
        if (error !== status.lastError) log(`sync failed: ${error}`);
        status.lastError = error;
        if (!consul.running && !consul.left) status.state = 'error';
        throw err;
      })
      .finally(() => (syncing = undefined));
    return syncing;
  }

  // Quick checks while nothing has been applied yet (a new VM waiting for its first files holds
  // up its cluster's create) within the bootstrap window; the regular interval otherwise.
  const startedAt = Date.now();
  const nextCheckMs = () =>
    !appliedEtag && Date.now() - startedAt < config.bootstrapWindowSeconds * 1000
      ? config.bootstrapSyncMs
      : config.syncIntervalSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const scheduleNext = () => {
    if (!stopped) timer = setTimeout(() => void sync().then(scheduleNext, scheduleNext), nextCheckMs());
  };
  const server: Server = createServer((req, res) => {
    const body = req.url === '/status' ? { ...status, consulPid: consul.pid, consulRunning: consul.running } : { error: 'not found' };
    // 503 while no Consul agent runs here: a health check (the VMSS's, an SRE's curl) sees it at once.
    res.writeHead(req.url === '/status' ? (consul.running ? 200 : 503) : 404, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(config.statusPort, config.instanceIp, r));
  const port = (server.address() as { port: number }).port;
  await sync().catch(() => {});
  scheduleNext();

  return {
    sync,
    status: () => ({ ...status, ...(consul.pid ? { consulPid: consul.pid } : {}) }),
    statusUrl: `http://${config.instanceIp}:${port}/status`,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await new Promise<void>((r) => server.close(() => r()));
      await consul.stop();
    },
  };
}

/** An error's first line, bounded (a storage error can carry a whole response body). */
function briefly(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = text.split('\n')[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
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
