// HAProxy (Debian's package) in front of several API replicas, as the load balancer of the HA
// topology (`npm run start:ha`): one TCP frontend for REST and one for gRPC on free loopback
// ports, passing TLS through to the replicas (the API terminates TLS itself). Each replica is
// checked over HTTPS on its REST port (the readiness path, verified against the API's CA); a
// replica that stops answering or refuses a connection is taken out at once or within about two
// seconds, and a connection that cannot reach it is sent to another replica. A stats page (CSV)
// tells who is up. The configuration is written to a file beside the logs.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { httpCall } from '../../lib/http.js';
import type { Supervisor } from '../supervisor.js';

export interface ApiReplica {
  /** Server name in HAProxy (letters, digits, - and _). */
  name: string;
  restPort: number;
  grpcPort: number;
}

export interface StartHaproxyOptions {
  binary: string;
  dataDir: string;
  replicas: ApiReplica[];
  /** CA file of the replicas' TLS certificate: health checks verify it. */
  caCertFile: string;
  /** A name the replicas' certificate carries (sent as SNI and verified). */
  serverName: string;
  /** The HTTP path a healthy replica answers 200 on (its readiness endpoint). */
  healthPath: string;
  /** Service name under the supervisor (default haproxy). */
  name?: string;
}

export interface LoadBalancerEndpoint {
  /** https://127.0.0.1:port: REST through the load balancer (the replicas' certificate). */
  restUrl: string;
  /** 127.0.0.1:port: gRPC through the load balancer. */
  grpcAddress: string;
  /** HAProxy's stats page; `;csv` appended gives the CSV that backendStatus reads. */
  statsUrl: string;
  configFile: string;
}

/** What HAProxy says of one replica in one backend: UP, DOWN, `UP 1/2` while it changes, MAINT... */
export interface ServerStatus {
  backend: 'rest' | 'grpc';
  server: string;
  status: string;
}

const NAME = /^[A-Za-z0-9_-]+$/;
const PATH = /^\/[A-Za-z0-9/_.-]*$/;

/** The haproxy.cfg for these replicas and listeners (exported for its test). */
export function haproxyConfig(o: {
  replicas: ApiReplica[];
  restPort: number;
  grpcPort: number;
  statsPort: number;
  caCertFile: string;
  serverName: string;
  healthPath: string;
}): string {
  if (o.replicas.length === 0) throw new Error('haproxy: at least one API replica is needed');
  for (const r of o.replicas) if (!NAME.test(r.name)) throw new Error(`haproxy: invalid replica name "${r.name}"`);
  if (new Set(o.replicas.map((r) => r.name)).size !== o.replicas.length) throw new Error('haproxy: replica names must be unique');
  if (!PATH.test(o.healthPath)) throw new Error(`haproxy: invalid health path "${o.healthPath}"`);
  if (!NAME.test(o.serverName.replace(/\./g, '_'))) throw new Error(`haproxy: invalid server name "${o.serverName}"`);
  // Checks every second; two failures take a replica out, and so does one refused or reset
  // connection (observe layer4): a killed replica is out before the next check.
  const check = [
    'check',
    'inter 1s',
    'fastinter 500ms',
    'fall 2',
    'rise 2',
    'check-ssl',
    'verify required',
    `ca-file ${o.caCertFile}`,
    `check-sni ${o.serverName}`,
    `verifyhost ${o.serverName}`,
    'observe layer4',
    'error-limit 1',
    'on-error mark-down',
    'on-marked-down shutdown-sessions',
  ].join(' ');
  const backend = (kind: 'rest' | 'grpc') => [
    `backend ${kind}`,
    '  balance roundrobin',
    // The check speaks HTTP/1.1 over TLS to the replica's REST port, whichever backend it is for.
    '  option httpchk',
    `  http-check send meth GET uri ${o.healthPath} ver HTTP/1.1 hdr Host ${o.serverName}`,
    '  http-check expect status 200',
    ...o.replicas.map((r) => `  server ${r.name} 127.0.0.1:${kind === 'rest' ? r.restPort : r.grpcPort} ${check} port ${r.restPort}`),
    '',
  ];
  return [
    'global',
    '  maxconn 4096',
    '  log stderr format raw local0 info',
    '',
    'defaults',
    '  mode tcp',
    '  log global',
    '  option tcplog',
    '  timeout connect 2s',
    '  timeout client 10m',
    '  timeout server 10m',
    '  timeout check 2s',
    // A connection that cannot reach its replica is tried again on another one.
    '  retries 3',
    '  option redispatch 1',
    '',
    'frontend rest_in',
    `  bind 127.0.0.1:${o.restPort}`,
    '  default_backend rest',
    '',
    'frontend grpc_in',
    `  bind 127.0.0.1:${o.grpcPort}`,
    '  default_backend grpc',
    '',
    ...backend('rest'),
    ...backend('grpc'),
    'listen stats',
    `  bind 127.0.0.1:${o.statsPort}`,
    '  mode http',
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 5s',
    '',
  ].join('\n');
}

export async function startHaproxy(sup: Supervisor, o: StartHaproxyOptions): Promise<LoadBalancerEndpoint> {
  const name = o.name ?? 'haproxy';
  // Kept across restarts where the stack keeps its ports (clients keep the load balancer's address).
  const configFile = join(o.dataDir, 'haproxy.cfg');
  return sup.startOnFreePorts(async (take) => {
    const [restPort, grpcPort, statsPort] = [await take(`${name}-rest`), await take(`${name}-grpc`), await take(`${name}-stats`)];
    writeFileSync(configFile, haproxyConfig({ ...o, restPort, grpcPort, statsPort }));
    const statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    return {
      value: { restUrl: `https://127.0.0.1:${restPort}`, grpcAddress: `127.0.0.1:${grpcPort}`, statsUrl, configFile },
      spec: {
        name,
        command: o.binary,
        // -db: foreground, logs to stderr (the supervisor's log file); -W: master-worker, so SIGTERM stops both.
        args: ['-W', '-db', '-f', configFile],
        readyTimeoutMs: 30_000,
        // Ready once at least one replica is up in each backend: a client can be served.
        probe: async () => {
          const states = await backendStatus(statsUrl);
          for (const backend of ['rest', 'grpc'] as const)
            if (!states.some((s) => s.backend === backend && s.status === 'UP'))
              throw new Error(`no ${backend} replica is up yet: ${JSON.stringify(states)}`);
        },
      },
    };
  });
}

/** Every replica's status in both backends, from HAProxy's stats CSV. */
export async function backendStatus(statsUrl: string): Promise<ServerStatus[]> {
  const res = await httpCall(`${statsUrl};csv`, { timeoutInMs: 2_000 });
  if (res.status !== 200) throw new Error(`haproxy stats answered ${res.status}`);
  return parseStatsCsv(res.body);
}

/** The servers' rows of HAProxy's stats CSV (header `# pxname,svname,...,status,...`). */
export function parseStatsCsv(csv: string): ServerStatus[] {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const [px, sv, st] = ['pxname', 'svname', 'status'].map((c) => columns.indexOf(c));
  if (px === undefined || sv === undefined || st === undefined || px < 0 || sv < 0 || st < 0)
    throw new Error('haproxy stats CSV without pxname, svname and status columns');
  return rows
    .map((line) => line.split(','))
    .filter((f) => (f[px] === 'rest' || f[px] === 'grpc') && f[sv] !== 'BACKEND' && f[sv] !== 'FRONTEND')
    .map((f) => ({ backend: f[px] as 'rest' | 'grpc', server: f[sv]!, status: f[st]! }));
}
