// Runs the local cloud as a process (under the dev stack's supervisor). Configuration comes from
// the environment; what clients need is written to `<dataDir>/endpoint.json` (no secrets) and the
// control plane's client secret stays in `<dataDir>/credentials.json` (mode 0600). Nothing secret
// is printed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type InstanceCommand, startLocalCloud } from './server.js';

export interface LocalCloudEndpointFile {
  url: string;
  tenantId: string;
  subscriptionId: string;
  clientId: string;
  caCertFile: string;
  credentialsFile: string;
  pid: number;
}

const env = process.env;
const dataDir = env.HCS_LOCAL_CLOUD_DATA_DIR;
if (!dataDir) {
  console.error('HCS_LOCAL_CLOUD_DATA_DIR must name the folder for the local cloud state.');
  process.exit(2);
}

const log = (message: string) => console.log(`${new Date().toISOString()} ${message}`);
const cloud = await startLocalCloud({
  dataDir,
  host: env.HCS_LOCAL_CLOUD_HOST ?? '127.0.0.1',
  port: Number(env.HCS_LOCAL_CLOUD_PORT ?? 0),
  ...(env.HCS_LOCAL_CLOUD_INSTANCE_COMMAND ? { instanceCommand: parseCommand(env.HCS_LOCAL_CLOUD_INSTANCE_COMMAND) } : {}),
  ...(env.HCS_LOCAL_CLOUD_OPERATION_DELAY_MS ? { operationDelayMs: Number(env.HCS_LOCAL_CLOUD_OPERATION_DELAY_MS) } : {}),
  ...(env.HCS_LOCAL_CLOUD_POLL_AFTER_MS ? { pollAfterMs: Number(env.HCS_LOCAL_CLOUD_POLL_AFTER_MS) } : {}),
  // Test-only (chaos runs and tests): the fault-injection admin API of faults.ts.
  ...(env.HCS_LOCAL_CLOUD_FAULT_INJECTION === '1' ? { faultInjection: true } : {}),
  onEvent: log,
});

const endpoint: LocalCloudEndpointFile = {
  url: cloud.url,
  tenantId: cloud.tenantId,
  subscriptionId: cloud.subscriptionId,
  clientId: cloud.clientCredentials.clientId,
  caCertFile: cloud.caCertFile,
  credentialsFile: join(dataDir, 'credentials.json'),
  pid: process.pid,
};
writeFileSync(join(dataDir, 'endpoint.json'), JSON.stringify(endpoint, null, 2));
log(`local cloud listening on ${cloud.url} (tenant ${cloud.tenantId}, subscription ${cloud.subscriptionId}, CA ${cloud.caCertFile})`);

let stopping = false;
const stop = (signal: NodeJS.Signals) => {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping instances and the server`);
  cloud.close().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

/** `["cmd", "arg", ...]` or `{ "command": "cmd", "args": [...], "env": {...} }`. */
function parseCommand(raw: string): InstanceCommand {
  const v = JSON.parse(raw) as unknown;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) {
    const [command, ...args] = v;
    return { command: command!, args };
  }
  if (v && typeof v === 'object' && typeof (v as InstanceCommand).command === 'string') return v as InstanceCommand;
  throw new Error('HCS_LOCAL_CLOUD_INSTANCE_COMMAND must be a JSON array ["cmd", ...args] or {"command", "args", "env"}.');
}
