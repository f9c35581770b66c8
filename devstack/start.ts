// `npm start`: the embedded default stack with state under .data/ (kept across restarts), the
// store migrated, the control-plane processes that exist, and a summary of where everything is.
// Ctrl-C stops every process it started.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { migrate } from '../store/migrate.js';
import { getSubscription, putSubscription } from '../store/subscriptions.js';
import { startStack, type StackEndpoints } from './stack.js';
import { API_REST_PORT, startControlPlane, type ControlPlaneEndpoints } from './control-plane.js';

/** The subscription `npm start` registers and its example request uses. */
const LOCAL_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000001';
const dataDir = process.env.HCS_DATA_DIR ?? join(repoRoot, '.data');
const firstStart = !existsSync(join(dataDir, 'openbao', 'init.json'));
mkdirSync(dataDir, { recursive: true });

const log = (m: string) => process.stderr.write(`[start] ${m}\n`);
log(`state folder: ${dataDir}${firstStart ? ' (new)' : ' (existing state kept)'}`);

const stack = await startStack({
  dataDir,
  persistent: true,
  database: { name: 'hcs_dev', prefer: 'pglite' },
  onEvent: log,
  // The Temporal UI decodes payloads through the API's /codec.
  codecApiPort: API_REST_PORT,
});

try {
  const db = await openDatabase(stack.endpoints.database);
  const applied = await migrate(db);
  // ARM registers a subscription before it creates anything in it; locally we do it once.
  if (!(await getSubscription(db, LOCAL_SUBSCRIPTION_ID))) {
    await putSubscription(db, { subscriptionId: LOCAL_SUBSCRIPTION_ID, state: 'Registered', tenantId: null, properties: {} });
    log(`subscription ${LOCAL_SUBSCRIPTION_ID} registered`);
  }
  await db.close();
  log(applied.length ? `store migrated (${applied.join(', ')})` : 'store schema up to date');
  const controlPlane = await startControlPlane(stack.supervisor, stack.endpoints);
  process.stdout.write(summary(stack.endpoints, controlPlane));
} catch (err) {
  log(`start failed: ${err instanceof Error ? err.message : String(err)}`);
  await stack.stop();
  process.exit(1);
}

// Keep running until Ctrl-C; the supervisor stops everything and exits.
setInterval(() => {}, 1 << 30);

function summary(e: StackEndpoints, cp: ControlPlaneEndpoints): string {
  const db = e.database.kind === 'postgres' ? e.database.url : `PGlite in ${e.database.dataDir}`;
  const sub = LOCAL_SUBSCRIPTION_ID;
  const url = `${cp.restUrl}/subscriptions/${sub}/resourceGroups/rg1/providers/HCS.Consul/clusters/first?api-version=2026-11-01`;
  const body = JSON.stringify({
    location: 'westeurope',
    properties: { consulVersion: e.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: '10.10.0.0/16' } },
  });
  const lines = [
    '',
    'HCS control plane (local) is up. Ctrl-C stops everything.',
    '',
    `  REST API (ARM)   ${cp.restUrl}   (TLS CA: ${cp.caCertFile})`,
    `  gRPC API         ${cp.grpcAddress}   (TLS, same CA; reflection and health enabled)`,
    `  Admin token      ${cp.adminToken}`,
    `  Temporal UI      ${e.temporal.uiUrl}   (codec endpoint ${cp.restUrl}/codec)`,
    `  Codec sign-in    ${cp.restUrl}/codec/session   (paste the admin token; then in the UI's Codec Server settings use`,
    `                   this browser's endpoint ${cp.restUrl}/codec with "Include cross-origin credentials" on)`,
    `  Temporal gRPC    ${e.temporal.address} (namespace ${e.temporal.namespace})`,
    `  OpenBao          ${e.vault.address}  token: ${e.vault.token}`,
    `  ACME (Pebble)    ${e.acme.directoryUrl}  DNS: ${e.acme.dnsAddress}`,
    `  Blob (Azurite)   ${e.blob.url}  account: ${e.blob.accountName}  key: ${e.blob.accountKey}`,
    `  Azure twin (ARM) ${e.cloud.url}  tenant: ${e.cloud.tenantId}  subscription: ${e.cloud.subscriptionId}  client: ${e.cloud.clientId}`,
    `  Store            ${db}`,
    `  Logs             ${e.logDir}`,
    '',
    'Local development credentials only; nothing here is used outside this machine.',
    '',
    'Create a first cluster:',
    `  curl --cacert ${cp.caCertFile} -H 'Authorization: Bearer ${cp.adminToken}' -H 'Content-Type: application/json' \\`,
    `    -X PUT '${url}' -d '${body}'`,
    'and watch it:',
    `  curl --cacert ${cp.caCertFile} -H 'Authorization: Bearer ${cp.adminToken}' '${url}'`,
    '',
  ];
  return lines.join('\n') + '\n';
}
