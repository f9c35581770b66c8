// The production Temporal server (go.temporal.io/server, built by set-up) for the HA topology:
// all four services in one process on loopback and free ports, persistence and visibility on a
// PostgreSQL server (databases `<prefix>` and `<prefix>_visibility`, schemas by its SQL tool),
// mutual TLS on the frontend and between the services with certificates from one local CA
// (lib/dev-tls.ts), the namespace and our search attributes registered. Ready when a TLS client
// with a certificate from that CA lists every search attribute.
//
// Access control is the mutual TLS: any client certificate from the CA may call the frontend
// (the server runs with --allow-no-auth: no authorizer on top). The CA and the certificates are
// kept in `dataDir/tls`, so a restarted server is trusted by the clients of the first start.
import { status } from '@grpc/grpc-js';
import { Connection, isGrpcServiceError } from '@temporalio/client';
import { msToTs } from '@temporalio/common';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ensureDevCertificate, type DevCertificate } from '../../lib/dev-tls.js';
import { temporalConnectOptions, type TemporalConnectionConfig } from '../../lib/temporal-connection.js';
import type { Supervisor } from '../supervisor.js';
import { SEARCH_ATTRIBUTES, type TemporalEndpoint } from './temporal.js';
import { temporalServerConfigFile, temporalServerDynamicConfig, type TemporalServerPorts } from './temporal-server-config.js';
import {
  dropTemporalDatabases,
  parsePostgresUrl,
  prepareTemporalDatabases,
  temporalDatabaseNames,
  type TemporalDatabases,
} from './temporal-server-db.js';

export interface TemporalServerOptions {
  /** toolPaths().temporalServer */
  binary: string;
  /** toolPaths().temporalSqlTool */
  sqlTool: string;
  /** Configuration and certificates (keep it across restarts: clients trust its CA). */
  dataDir: string;
  /** The PostgreSQL server: postgres://user[:password]@host:port[/admin database]. Its databases are created here. */
  postgresUrl: string;
  /** Databases `<prefix>` and `<prefix>_visibility` (lower-case letters, digits, _). */
  databasePrefix: string;
  /** Registered at start when missing (default `default`). */
  namespace?: string;
  /** Supervisor service name and prefix of its port names (default `temporal-server`). */
  name?: string;
  /** The name in the frontend's certificate that clients verify (default `temporal.hcs.internal`). */
  serverName?: string;
  /** Fixed by the first start (the database keeps it); default 4. */
  numHistoryShards?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  readyTimeoutMs?: number;
}

/** What a client of the frontend needs (HCS_TEMPORAL_TLS_* settings). */
export interface TemporalServerTls {
  /** The CA of the server's certificate (HCS_TEMPORAL_TLS_CA_FILE). */
  caFile: string;
  caCertPem: string;
  /** A client certificate and key from the same CA (HCS_TEMPORAL_TLS_CERT_FILE, HCS_TEMPORAL_TLS_KEY_FILE). */
  certFile: string;
  keyFile: string;
  /** HCS_TEMPORAL_TLS_SERVER_NAME */
  serverName: string;
}

/** A TemporalEndpoint (no Web UI runs with this server: uiUrl is empty) plus its TLS files and databases. */
export interface TemporalServerEndpoint extends TemporalEndpoint {
  tls: TemporalServerTls;
  databases: TemporalDatabases;
  /** The server's Prometheus metrics (plain HTTP on loopback). */
  metricsUrl: string;
}

const DEFAULT_SERVER_NAME = 'temporal.hcs.internal';
/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;

/** Starts the server (after preparing its databases) and resolves once it is ready for our processes. */
export async function startTemporalServer(sup: Supervisor, o: TemporalServerOptions): Promise<TemporalServerEndpoint> {
  // Every input is checked before anything is created.
  const server = parsePostgresUrl(o.postgresUrl);
  const databases = temporalDatabaseNames(o.databasePrefix);
  const name = o.name ?? 'temporal-server';
  const namespace = o.namespace ?? 'default';
  if (!/^[a-zA-Z][a-zA-Z0-9_.-]{1,254}$/.test(namespace)) throw new Error(`invalid Temporal namespace "${namespace}"`);
  const shards = o.numHistoryShards ?? 4;
  if (!Number.isInteger(shards) || shards < 1) throw new Error(`numHistoryShards must be a positive integer (got ${shards})`);

  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const serverName = o.serverName ?? DEFAULT_SERVER_NAME;
  const ca = ensureDevCertificate(join(o.dataDir, 'tls', 'server'), [serverName, 'localhost', '127.0.0.1']);
  const systemWorker = issueClientCertificate(ca, join(o.dataDir, 'tls', 'clients'), 'temporal-system-worker');
  const client = issueClientCertificate(ca, join(o.dataDir, 'tls', 'clients'), 'hcs-control-plane');

  await prepareTemporalDatabases({ sqlTool: o.sqlTool, server, databases });

  // Temporal stores its services' addresses in cluster_membership, whose port column is a SMALLINT.
  const passwordEnv = server.password ? 'HCS_TEMPORAL_SQL_PASSWORD' : undefined;
  const tls: TemporalServerTls = {
    caFile: ca.caCertFile,
    caCertPem: ca.caCertPem,
    certFile: client.certFile,
    keyFile: client.keyFile,
    serverName,
  };
  const endpoint = await sup.startOnFreePorts(async (take) => {
    const port = (purpose: string) => take(`${name}-${purpose}`, { below: 32_768 });
    const ports: TemporalServerPorts = {
      frontendGrpc: await port('frontend'),
      frontendHttp: await port('frontend-http'),
      frontendMembership: await port('frontend-membership'),
      historyGrpc: await port('history'),
      historyMembership: await port('history-membership'),
      matchingGrpc: await port('matching'),
      matchingMembership: await port('matching-membership'),
      workerGrpc: await port('worker'),
      workerMembership: await port('worker-membership'),
      metrics: await port('metrics'),
    };
    const dynamicConfigFile = join(o.dataDir, 'dynamicconfig.yaml');
    writeFileSync(dynamicConfigFile, temporalServerDynamicConfig());
    const configFile = join(o.dataDir, 'config.yaml');
    writeFileSync(
      configFile,
      temporalServerConfigFile({
        ports,
        postgres: { host: server.host, port: server.port, user: server.user, ...(passwordEnv ? { passwordEnv } : {}) },
        databases,
        tls: {
          certFile: ca.certFile,
          keyFile: ca.keyFile,
          caFile: ca.caCertFile,
          serverName,
          systemWorkerCertFile: systemWorker.certFile,
          systemWorkerKeyFile: systemWorker.keyFile,
        },
        dynamicConfigFile,
        numHistoryShards: shards,
        logLevel: o.logLevel ?? 'warn',
      }),
      { mode: 0o600 },
    );

    const endpoint: TemporalServerEndpoint = {
      address: `127.0.0.1:${ports.frontendGrpc}`,
      namespace,
      uiUrl: '',
      tls,
      databases,
      metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`,
    };
    const connection = temporalServerConnection(endpoint);
    return {
      value: endpoint,
      spec: {
        name,
        command: o.binary,
        args: ['--config-file', configFile, '--allow-no-auth', 'start'],
        env: passwordEnv ? { [passwordEnv]: server.password } : {},
        readyTimeoutMs: o.readyTimeoutMs ?? 180_000,
        stopTimeoutMs: 20_000,
        // Up means: the frontend answers a client with a certificate from our CA, over TLS.
        probe: () => withConnection(connection, async (c) => void (await c.workflowService.getSystemInfo({}))),
      },
    };
  });
  await registerNamespaceAndSearchAttributes(temporalServerConnection(endpoint), o.readyTimeoutMs ?? 180_000);
  return endpoint;
}

/** The connection settings of our processes for this server (the PEM files read now). */
export function temporalServerConnection(e: TemporalServerEndpoint): TemporalConnectionConfig {
  return {
    address: e.address,
    namespace: e.namespace,
    tls: {
      serverRootCaPem: readFileSync(e.tls.caFile, 'utf8'),
      clientCertPem: readFileSync(e.tls.certFile, 'utf8'),
      clientKeyPem: readFileSync(e.tls.keyFile, 'utf8'),
      serverName: e.tls.serverName,
    },
  };
}

/** The settings (apps/control-plane/src/config.ts) that point a control-plane process at this server. */
export function temporalServerEnv(e: TemporalServerEndpoint): Record<string, string> {
  return {
    HCS_TEMPORAL_ADDRESS: e.address,
    HCS_TEMPORAL_NAMESPACE: e.namespace,
    HCS_TEMPORAL_TLS_CA_FILE: e.tls.caFile,
    HCS_TEMPORAL_TLS_CERT_FILE: e.tls.certFile,
    HCS_TEMPORAL_TLS_KEY_FILE: e.tls.keyFile,
    HCS_TEMPORAL_TLS_SERVER_NAME: e.tls.serverName,
  };
}

/** Another client certificate from the server's CA (a process identity of its own); made once per name. */
export function issueTemporalClientCertificate(dataDir: string, clientName: string, serverName = DEFAULT_SERVER_NAME) {
  const ca = ensureDevCertificate(join(dataDir, 'tls', 'server'), [serverName, 'localhost', '127.0.0.1']);
  return issueClientCertificate(ca, join(dataDir, 'tls', 'clients'), clientName);
}

/** Drops the server's two databases (tests; the server must be stopped first or its connections are ended). */
export async function dropTemporalServerDatabases(postgresUrl: string, databasePrefix: string): Promise<void> {
  await dropTemporalDatabases(parsePostgresUrl(postgresUrl), databasePrefix);
}

/** A client certificate (clientAuth only) signed by `ca`, in `dir/<name>/`; kept when present. */
function issueClientCertificate(ca: DevCertificate, dir: string, clientName: string): { certFile: string; keyFile: string } {
  if (!/^[a-z0-9][a-z0-9.-]*$/.test(clientName)) throw new Error(`invalid client certificate name "${clientName}"`);
  const d = join(dir, clientName);
  const certFile = join(d, 'client.pem');
  const keyFile = join(d, 'client.key');
  if (existsSync(certFile)) return { certFile, keyFile };
  mkdirSync(d, { recursive: true, mode: 0o700 });
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  const csr = join(d, 'client.csr');
  openssl(['req', '-new', '-key', keyFile, '-subj', `/CN=${clientName}`, '-out', csr]);
  const ext = join(d, 'client.ext');
  writeFileSync(ext, 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\nbasicConstraints=CA:FALSE\n');
  const serial = join(d, 'ca.srl');
  openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    ca.caCertFile,
    '-CAkey',
    ca.caKeyFile,
    '-CAserial',
    serial,
    '-CAcreateserial',
    '-days',
    '825',
    '-sha256',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  return { certFile, keyFile };
}

async function withConnection<T>(c: TemporalConnectionConfig, fn: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ ...temporalConnectOptions(c), connectTimeout: 2_000 });
  try {
    return await fn(connection);
  } finally {
    await connection.close();
  }
}

/** Registers the namespace and our search attributes when missing, then waits until a client sees them all. */
async function registerNamespaceAndSearchAttributes(c: TemporalConnectionConfig, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'not tried yet';
  for (;;) {
    try {
      const missing = await withConnection(c, async (connection) => {
        await ensureNamespace(connection, c.namespace);
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace: c.namespace });
        const absent = SEARCH_ATTRIBUTES.filter((n) => !customAttributes?.[n]);
        if (absent.length)
          await connection.operatorService.addSearchAttributes({
            namespace: c.namespace,
            searchAttributes: Object.fromEntries(absent.map((n) => [n, KEYWORD])),
          });
        return absent;
      });
      if (missing.length === 0) return;
      last = `search attributes just added: ${missing.join(', ')}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) throw new Error(`Temporal namespace ${c.namespace} or its search attributes not ready: ${last}`);
    await delay(1_000);
  }
}

async function ensureNamespace(connection: Connection, namespace: string): Promise<void> {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (err) {
    if (!isGrpcServiceError(err) || err.code !== status.NOT_FOUND) throw err;
  }
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('3 days') });
  } catch (err) {
    if (!isGrpcServiceError(err) || err.code !== status.ALREADY_EXISTS) throw err;
  }
}
