// The development and test stack: every real service the control plane talks to, started by
// one Supervisor on loopback and free ports. `npm start` and the test suite both use this.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toolPaths, type ToolPaths } from '../scripts/toolchain.mjs';
import type { DatabaseConfig } from '../store/database.js';
import { Supervisor } from './supervisor.js';
import { buildHostManagerImage } from './host-manager-image.js';
import { startAzurite, type BlobEndpoint } from './services/azurite.js';
import { startLocalCloudService, type LocalCloudEndpoint } from './services/local-cloud.js';
import { resolveDatabase } from './services/database.js';
import { startOpenBao, type VaultEndpoint } from './services/openbao.js';
import { startPebble, type AcmeEndpoint } from './services/pebble.js';
import { startPrivatePostgres } from './services/postgres.js';
import { startTemporal, type TemporalEndpoint } from './services/temporal.js';
import { dropTemporalServerDatabases, startTemporalServer, type TemporalServerEndpoint } from './services/temporal-server.js';

/** Everything a client of the stack needs; plain data so it can cross process boundaries. */
export interface StackEndpoints {
  /** The dev server, or the production server (mutual TLS: its `tls` files) with `temporal: { kind: 'production' }`. */
  temporal: TemporalEndpoint | TemporalServerEndpoint;
  vault: VaultEndpoint;
  acme: AcmeEndpoint;
  blob: BlobEndpoint;
  /** The local Azure Resource Manager twin (apps/local-cloud). */
  cloud: LocalCloudEndpoint;
  database: DatabaseConfig;
  tools: ToolPaths;
  logDir: string;
  dataDir: string;
  /** Every local CA in one PEM file (NODE_EXTRA_CA_CERTS for our processes and the tests). */
  caBundleFile: string;
}

export interface StartStackOptions {
  /** State folder; for `npm start` it survives restarts, for tests it is per run. */
  dataDir: string;
  /** Keep OpenBao state on disk (npm start) instead of the in-memory dev server (tests). */
  persistent: boolean;
  /** Store database choice (see resolveDatabase). */
  database: { name: string; prefer: 'auto' | 'pglite' };
  onEvent?: (message: string) => void;
  /**
   * Chaos runs: the store on a PostgreSQL cluster of the stack's own (a supervised service that
   * can be restarted, unlike the machine's shared server), and the twin's fault-injection API.
   */
  chaos?: boolean;
  /** The twin's test-only fault API (behind its admin secret) without the rest of chaos (tests break instances for good). */
  faultInjection?: boolean;
  /**
   * The HA topology: the production Temporal server (go.temporal.io/server) with its databases
   * `<databasePrefix>` and `<databasePrefix>_visibility` on the store's PostgreSQL server, instead
   * of the dev server. Needs the store on PostgreSQL. A stack that is not persistent drops them at stop.
   */
  temporal?: { kind: 'production'; databasePrefix: string };
  /**
   * The named port (Supervisor.port) the API's REST listener will take: the dev server's UI gets
   * https://127.0.0.1:<that port>/codec as its codec endpoint. For a persistent stack (`npm start`),
   * where a named port is the same for every caller; a per-run stack hands out a new one each time.
   */
  codecApiPort?: string;
}

export interface Stack {
  endpoints: StackEndpoints;
  supervisor: Supervisor;
  /** Stops every service and drops a per-run database. */
  stop(): Promise<void>;
}

export async function startStack(options: StartStackOptions): Promise<Stack> {
  const tools = toolPaths();
  const dir = (name: string) => {
    const d = join(options.dataDir, name);
    mkdirSync(d, { recursive: true });
    return d;
  };
  const supervisor = new Supervisor({
    stateDir: dir('supervisor'),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    // A persistent stack listens where it did before: clusters created on it name its endpoints.
    ...(options.persistent ? { portsFile: join(options.dataDir, 'ports.json') } : {}),
  });
  try {
    const privatePg = options.chaos ? await startPrivatePostgres(supervisor, { dataDir: dir('postgres') }) : undefined;
    const db = await resolveDatabase({
      ...options.database,
      pgliteDir: dir('pglite'),
      ...(privatePg ? { prefer: 'auto' as const, serverUrls: [privatePg.serverUrl] } : {}),
    });
    const production = options.temporal;
    const temporalServerUrl = production ? postgresServerUrl(db.config) : undefined;
    const codecEndpoint = options.codecApiPort ? `https://127.0.0.1:${await supervisor.port(options.codecApiPort)}/codec` : undefined;
    // Independent services start concurrently; each waits for its own readiness probe.
    const [temporal, vault, acme, blob, hostManagerImage] = await Promise.all([
      production && temporalServerUrl
        ? startTemporalServer(supervisor, {
            binary: tools.temporalServer,
            sqlTool: tools.temporalSqlTool,
            dataDir: dir('temporal-server'),
            postgresUrl: temporalServerUrl,
            databasePrefix: production.databasePrefix,
          })
        : startTemporal(supervisor, { binary: tools.temporal, dataDir: dir('temporal'), ...(codecEndpoint ? { codecEndpoint } : {}) }),
      startOpenBao(supervisor, { binary: tools.bao, dataDir: dir('openbao'), persistent: options.persistent }),
      startPebble(supervisor, { pebbleBinary: tools.pebble, challtestsrvBinary: tools.challtestsrv, dataDir: dir('pebble') }),
      startAzurite(supervisor, { dataDir: dir('azurite') }),
      buildHostManagerImage(dir('image')),
    ]);
    // After the storage emulator: the twin's instances must trust its CA, as VMs trust Azure's.
    // Every scale-set instance of the twin runs host-manager, as every server VM does in Azure.
    const cloud = await startLocalCloudService(supervisor, {
      dataDir: dir('local-cloud'),
      trustCaFile: blob.caCertFile,
      ...(options.chaos || options.faultInjection ? { faultInjection: true } : {}),
      instanceCommand: {
        command: process.execPath,
        // The twin's server image: host-manager built into one file (host-manager-image.ts).
        args: [hostManagerImage],
        env: { HCS_CONSUL_BINARIES: JSON.stringify(tools.consul), HCS_SYNC_INTERVAL_SECONDS: '2' },
      },
    });
    // One bundle of every local CA, for processes that trust them through NODE_EXTRA_CA_CERTS.
    const caBundleFile = join(options.dataDir, 'ca-bundle.pem');
    writeFileSync(caBundleFile, [blob.caCertPem, cloud.caCertPem, acme.apiCaCertPem].map((c) => c.trim()).join('\n') + '\n');
    const endpoints: StackEndpoints = {
      temporal,
      vault,
      acme,
      blob,
      cloud,
      database: db.config,
      tools,
      logDir: supervisor.logDir,
      caBundleFile,
      dataDir: options.dataDir,
    };
    return {
      endpoints,
      supervisor,
      stop: async () => {
        // A private server's database goes with its folder; the shared server's is dropped.
        if (privatePg) return supervisor.stop();
        await supervisor.stop();
        await db.drop();
        if (production && temporalServerUrl && !options.persistent)
          await dropTemporalServerDatabases(temporalServerUrl, production.databasePrefix);
      },
    };
  } catch (err) {
    await supervisor.stop();
    throw err;
  }
}

/** The PostgreSQL server of the store's database (its admin database), for the production Temporal server's databases. */
function postgresServerUrl(database: DatabaseConfig): string {
  if (database.kind !== 'postgres')
    throw new Error('the production Temporal server needs PostgreSQL: none answered on 127.0.0.1:5432 (or set HCS_DATABASE_URL)');
  const u = new URL(database.url);
  u.pathname = '/postgres';
  u.search = '';
  return u.toString();
}
