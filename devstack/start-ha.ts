// `npm run start:ha`: the HA topology on this machine (devstack/ha-stack.ts): the production
// Temporal server on the machine's PostgreSQL with mutual TLS, the store on that PostgreSQL, two
// API replicas and two workers run with node from the build output, HAProxy in front of the API,
// and the rest of the stack; state under .data/ha/ (kept across restarts). Prints where
// everything is. Ctrl-C stops every process it started.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../scripts/toolchain.mjs';
import { openDatabase } from '../store/database.js';
import { getSubscription, putSubscription } from '../store/subscriptions.js';
import { startHaStack, type HaStack } from './ha-stack.js';

/** The subscription start:ha registers and its example request uses (the same as `npm start`'s). */
const LOCAL_SUBSCRIPTION_ID = '00000000-0000-0000-0000-000000000001';
const dataDir = process.env.HCS_DATA_DIR ?? join(repoRoot, '.data', 'ha');
mkdirSync(dataDir, { recursive: true });
const log = (m: string) => process.stderr.write(`[start:ha] ${m}\n`);
log(`state folder: ${dataDir}`);

let ha: HaStack;
try {
  ha = await startHaStack({
    dataDir,
    persistent: true,
    databaseName: 'hcs_ha_store',
    temporalDatabasePrefix: 'hcs_ha',
    onEvent: log,
  });
} catch (err) {
  log(`start failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
try {
  const db = await openDatabase(ha.endpoints.database);
  if (!(await getSubscription(db, LOCAL_SUBSCRIPTION_ID))) {
    await putSubscription(db, { subscriptionId: LOCAL_SUBSCRIPTION_ID, state: 'Registered', tenantId: null, properties: {} });
    log(`subscription ${LOCAL_SUBSCRIPTION_ID} registered`);
  }
  await db.close();
  process.stdout.write(summary(ha));
} catch (err) {
  log(`start failed: ${err instanceof Error ? err.message : String(err)}`);
  await ha.stop();
  process.exit(1);
}

// Keep running until Ctrl-C; the supervisor stops everything and exits.
setInterval(() => {}, 1 << 30);

function summary(h: HaStack): string {
  const e = h.endpoints;
  const t = e.temporal;
  const db = e.database.kind === 'postgres' ? e.database.url : `PGlite in ${e.database.dataDir}`;
  const url = `${h.lb.restUrl}/subscriptions/${LOCAL_SUBSCRIPTION_ID}/resourceGroups/rg1/providers/HCS.Consul/clusters/first?api-version=2026-11-01`;
  const body = JSON.stringify({
    location: 'westeurope',
    properties: { consulVersion: e.tools.consulVersions.at(-1), serverCount: 3, network: { cidr: '10.10.0.0/16' } },
  });
  const replica = (r: HaStack['apis'][number]) => `${r.name} (pid ${r.process().pid}, log ${r.process().logFile})`;
  const lines = [
    '',
    'HCS control plane (HA topology, local) is up. Ctrl-C stops everything.',
    '',
    `  REST API (ARM)   ${h.lb.restUrl}   through HAProxy (TLS passed through; CA: ${h.apiCaCertFile})`,
    `  gRPC API         ${h.lb.grpcAddress}   through HAProxy (TLS, same CA)`,
    `  HAProxy          stats ${h.lb.statsUrl}  config ${h.lb.configFile}  (checks ${h.healthPath} on each replica)`,
    `  API replicas     ${h.apis.map(replica).join('; ')}`,
    `  Workers          ${h.workers.map(replica).join('; ')}`,
    `  Admin token      ${h.adminToken}`,
    `  Temporal         ${t.address} (namespace ${t.namespace}; production server, mutual TLS${'tls' in t ? `: CA ${t.tls.caFile}, client certificate ${t.tls.certFile}` : ''})`,
    `  OpenBao          ${e.vault.address}  token: ${e.vault.token}`,
    `  ACME (Pebble)    ${e.acme.directoryUrl}  DNS: ${e.acme.dnsAddress}`,
    `  Blob (Azurite)   ${e.blob.url}  account: ${e.blob.accountName}  key: ${e.blob.accountKey}`,
    `  Azure twin (ARM) ${e.cloud.url}  tenant: ${e.cloud.tenantId}  subscription: ${e.cloud.subscriptionId}  client: ${e.cloud.clientId}`,
    `  Store            ${db}`,
    `  Logs             ${e.logDir}`,
    '',
    'Local development credentials only; nothing here is used outside this machine.',
    '',
    'Create a first cluster (through the load balancer):',
    `  curl --cacert ${h.apiCaCertFile} -H 'Authorization: Bearer ${h.adminToken}' -H 'Content-Type: application/json' \\`,
    `    -X PUT '${url}' -d '${body}'`,
    'and watch it:',
    `  curl --cacert ${h.apiCaCertFile} -H 'Authorization: Bearer ${h.adminToken}' '${url}'`,
    '',
  ];
  return lines.join('\n') + '\n';
}
