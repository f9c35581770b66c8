// The production Temporal server's configuration file, as data: all four services (frontend,
// history, matching, worker) in one process on loopback, PostgreSQL persistence and visibility,
// mutual TLS on the frontend and between the services, the system worker's client certificate.
// Pure functions: temporal-server.ts writes the result as YAML and starts the server on it.
import { stringify } from 'yaml';

/** The server's listeners (all on 127.0.0.1). */
export interface TemporalServerPorts {
  frontendGrpc: number;
  frontendHttp: number;
  frontendMembership: number;
  historyGrpc: number;
  historyMembership: number;
  matchingGrpc: number;
  matchingMembership: number;
  workerGrpc: number;
  workerMembership: number;
  metrics: number;
}

export interface TemporalServerConfigInput {
  ports: TemporalServerPorts;
  /** PostgreSQL server; the password is never written: the file reads it from `passwordEnv` at start. */
  postgres: { host: string; port: number; user: string; passwordEnv?: string };
  databases: { main: string; visibility: string };
  tls: {
    /** Server certificate (serverAuth and clientAuth: the services present it to each other too). */
    certFile: string;
    keyFile: string;
    /** The CA that signed every certificate here; clients must present a certificate from it. */
    caFile: string;
    /** The name in the server certificate that clients verify. */
    serverName: string;
    /** The system worker's client certificate for the frontend. */
    systemWorkerCertFile: string;
    systemWorkerKeyFile: string;
  };
  dynamicConfigFile: string;
  /** Fixed at the first start: the database keeps it (default 4). */
  numHistoryShards: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

const CLUSTER = 'active';
const PASSWORD_PLACEHOLDER = '__hcs_sql_password__';

/** The configuration as an object (what `yaml` writes). */
export function temporalServerConfig(c: TemporalServerConfigInput): Record<string, unknown> {
  const datastore = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${c.postgres.host}:${c.postgres.port}`,
      connectProtocol: 'tcp',
      user: c.postgres.user,
      // Never the password itself: temporalServerConfigFile puts a template reading it from the environment here.
      password: c.postgres.passwordEnv ? PASSWORD_PLACEHOLDER : '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number, extra: Record<string, unknown> = {}) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1', ...extra },
  });
  const client = { serverName: c.tls.serverName, rootCaFiles: [c.tls.caFile] };
  const server = { certFile: c.tls.certFile, keyFile: c.tls.keyFile, clientCaFiles: [c.tls.caFile], requireClientAuth: true };
  const frontendAddress = `127.0.0.1:${c.ports.frontendGrpc}`;
  return {
    log: { stdout: true, level: c.logLevel, format: 'json' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: c.numHistoryShards,
      datastores: {
        'postgres-default': datastore(c.databases.main, 20),
        'postgres-visibility': datastore(c.databases.visibility, 4),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      tls: {
        internode: { server, client },
        frontend: { server, client },
        systemWorker: { certFile: c.tls.systemWorkerCertFile, keyFile: c.tls.systemWorkerKeyFile, client },
      },
      metrics: { prometheus: { framework: 'tally', timerType: 'histogram', listenAddress: `127.0.0.1:${c.ports.metrics}` } },
    },
    services: {
      frontend: rpc(c.ports.frontendGrpc, c.ports.frontendMembership, { httpPort: c.ports.frontendHttp }),
      history: rpc(c.ports.historyGrpc, c.ports.historyMembership),
      matching: rpc(c.ports.matchingGrpc, c.ports.matchingMembership),
      worker: rpc(c.ports.workerGrpc, c.ports.workerMembership),
    },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: CLUSTER,
      currentClusterName: CLUSTER,
      clusterInformation: {
        [CLUSTER]: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: frontendAddress,
          httpAddress: `127.0.0.1:${c.ports.frontendHttp}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    dynamicConfigClient: { filepath: c.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** The file the server reads: YAML, with the template marker when a value comes from the environment. */
export function temporalServerConfigFile(c: TemporalServerConfigInput): string {
  const body = stringify(temporalServerConfig(c), { lineWidth: 0, aliasDuplicateObjects: false });
  if (!c.postgres.passwordEnv) return body;
  if (!/^[A-Z_][A-Z0-9_]*$/.test(c.postgres.passwordEnv)) throw new Error(`invalid environment variable name "${c.postgres.passwordEnv}"`);
  // The server renders the file as a Go template first (sprig's env and quote): the password
  // stays in the server's environment and reaches the YAML as one double-quoted scalar.
  return `# enable-template\n${body.replaceAll(PASSWORD_PLACEHOLDER, `{{ env "${c.postgres.passwordEnv}" | quote }}`)}`;
}

/**
 * Dynamic configuration: a new namespace and new search attributes are seen within seconds
 * (a stack registers both right after the first start), IDs as long as our workflow ids.
 */
export function temporalServerDynamicConfig(): string {
  return stringify({
    'system.namespaceCacheRefreshInterval': [{ value: '2s', constraints: {} }],
    'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true, constraints: {} }],
    'limit.maxIDLength': [{ value: 1000, constraints: {} }],
  });
}
