// What the lifecycle tests (end to end and chaos) share: a control plane whose worker builds real
// clusters on the local stack, REST helpers for async operations, and the checks that a cluster
// is whole or that a deleted one left nothing behind.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Client, Connection } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import nodeVault from 'node-vault';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { randomInt, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DerivedNameOverride, type DerivedNames, storeClusterNames } from '../../activities/cluster-names.js';
import { lookupA } from '../../activities/dns.js';
import { SECRET } from '../../contract/secret-names.js';
import { PG_STATE_SCHEMA } from '../../activities/terraform.js';
import { VaultPki } from '../../activities/vault-pki.js';
import { lifecycleConfigSchema, type ParsedLifecycleConfig } from '../../apps/worker/src/lifecycle-config.js';
import { localLifecycleConfig } from '../../devstack/lifecycle.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { httpCall, type HttpResult } from '../../lib/http.js';
import type { SqlDatabase } from '../../store/database.js';
import { getSecret, listSecretNames } from '../../store/secrets.js';
import { getClusterServers } from '../../store/clusters.js';
import { privateFqdnOf } from '../../domain/cluster-plan.js';
import type { ControlPlane } from '../api/harness.js';
import type { Supervisor } from '../../devstack/supervisor.js';
import { sharedDnsForwarder, withPrivateResolver } from './private-resolver.js';

export const API_VERSION = '2026-11-01';

export function lifecycleConfig(
  stack: StackEndpoints,
  o: { serverCertTtlHours?: number; healthTimeoutSeconds?: number } = {},
): ParsedLifecycleConfig {
  return lifecycleConfigSchema.parse(
    localLifecycleConfig(stack, { workRoot: mkdtempSync(join(tmpdir(), 'hcs-tf-work-')), healthTimeoutSeconds: 240, ...o }),
  );
}

/** Vault as the worker uses it: transit, and with the store `db` also the clusters' CAs (found by their names). */
export function vaultPki(stack: StackEndpoints, db?: SqlDatabase): VaultPki {
  return new VaultPki({
    vault: nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' }),
    rootMount: stack.vault.pkiMount,
    transitMount: stack.vault.transitMount,
    transitKey: 'hcs-secrets',
    names: db
      ? storeClusterNames(db)
      : async () => {
          throw new Error("vaultPki(stack) without the store serves transit only; pass the store to reach a cluster's CA");
        },
  });
}

/** A cluster's id and every name the worker derives from it, with the endpoint's and the servers' private DNS names. */
export type ClusterNames = DerivedNames & { clusterId: string; fqdn: string; privateFqdn: string };

/** The names of a cluster in the store, as the worker derives them (read them before a delete removes the record). */
export async function clusterNames(
  db: SqlDatabase,
  resourceKey: string,
  o: { zone?: string; override?: DerivedNameOverride } = {},
): Promise<ClusterNames> {
  const { clusterId, names } = await storeClusterNames(db, { override: o.override })(resourceKey);
  const fqdn = `${names.dnsLabel}.${o.zone ?? 'consul.hcs.test'}`;
  return { ...names, clusterId, fqdn, privateFqdn: privateFqdnOf(fqdn) };
}

/** A REST call to our API as ARM (the ARM issuer's JWT). */
export async function arm(cp: ControlPlane, method: string, path: string, body?: unknown): Promise<HttpResult> {
  const url = path.startsWith('https://') ? path : `${cp.api.restUrl}${path}${path.includes('?') ? '&' : '?'}api-version=${API_VERSION}`;
  return httpCall(url, {
    method,
    ca: cp.caCertPem,
    headers: { authorization: `Bearer ${await cp.mintJwt('arm')}` },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    timeoutInMs: 30_000,
  });
}

/** Follows an async operation's Location header until it answers with a final status. */
export async function followLocation(cp: ControlPlane, location: string, timeoutMs = 600_000): Promise<HttpResult> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const res = await arm(cp, 'GET', location);
    if (res.status !== 202) return res;
    if (Date.now() > end) throw new Error(`operation still running after ${timeoutMs} ms: ${location}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }
}

export interface ClusterAccess {
  /** The servers' private addresses, as the last apply recorded them (Terraform's outputs). */
  addresses: string[];
  caPem: string;
  clientConfig: Record<string, unknown>;
  helmValues: string;
}

/**
 * listClientConfig (CA bundle and the client configuration document, which names the servers by
 * the cluster's private DNS name) and the servers' addresses the store recorded from the last apply.
 */
export async function clientAccess(cp: ControlPlane, id: string): Promise<ClusterAccess> {
  const res = await arm(cp, 'POST', `${id}/listClientConfig`);
  if (res.status !== 200) throw new Error(`listClientConfig answered ${res.status}: ${res.body}`);
  const doc = JSON.parse(res.body) as { clientConfigJson: string; caBundlePem: string; helmValuesYaml: string };
  const clientConfig = JSON.parse(doc.clientConfigJson) as Record<string, unknown>;
  const addresses = (await getClusterServers(cp.db, id.toLowerCase())).map((s) => s.address);
  return { addresses, caPem: doc.caBundlePem, clientConfig, helmValues: doc.helmValuesYaml };
}

/** createRootToken end to end: 202, then the token from the operation's result. */
export async function createRootToken(cp: ControlPlane, id: string): Promise<{ accessorId: string; secretId: string }> {
  const res = await arm(cp, 'POST', `${id}/createRootToken`);
  if (res.status !== 202) throw new Error(`createRootToken answered ${res.status}: ${res.body}`);
  const done = await followLocation(cp, String(res.headers.location));
  if (done.status !== 200) throw new Error(`createRootToken ended ${done.status}: ${done.body}`);
  return JSON.parse(done.body) as { accessorId: string; secretId: string };
}

/** Consul's API on one server, with a token (or anonymously). */
export function consulCall(access: ClusterAccess, address: string, path: string, token?: string): Promise<HttpResult> {
  return httpCall(`https://${address}:8501${path}`, { ca: access.caPem, ...(token ? { headers: { 'x-consul-token': token } } : {}) });
}

/** Writes a KV value through one server's API; throws unless Consul answers true. */
export async function consulKvPut(access: ClusterAccess, address: string, path: string, token: string, value: string): Promise<void> {
  const res = await httpCall(`https://${address}:8501${path}`, {
    method: 'PUT',
    ca: access.caPem,
    headers: { 'x-consul-token': token },
    body: value,
  });
  if (res.body !== 'true') throw new Error(`KV PUT ${path} on ${address} answered ${res.status}: ${res.body.slice(0, 200)}`);
}

/** Every secret value of the cluster, decrypted (to look for them where they must not be). */
export async function clusterSecretValues(stack: StackEndpoints, db: SqlDatabase, resourceKey: string): Promise<string[]> {
  const pki = vaultPki(stack);
  const values: string[] = [];
  for (const name of [SECRET.gossipKey, SECRET.managementToken, SECRET.agentToken, SECRET.snapshotToken]) {
    const c = await getSecret(db, resourceKey, name);
    if (c === undefined) throw new Error(`cluster has no ${name}`);
    const plain = await pki.decrypt(c);
    values.push(...(name === SECRET.gossipKey ? [plain] : [(JSON.parse(plain) as { secretId: string }).secretId]));
  }
  return values;
}

/** Workflow ids of every operation on the cluster (found by the ClusterId search attribute). */
export async function clusterWorkflows(stack: StackEndpoints, codec: PayloadCodec, resourceKey: string): Promise<string[]> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    // Listing decodes each workflow's memo, which the codec encrypted.
    const client = new Client({ connection, namespace: stack.temporal.namespace, dataConverter: { payloadCodecs: [codec] } });
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `ClusterId = "${resourceKey}"` })) ids.push(w.workflowId);
    return ids;
  } finally {
    await connection.close();
  }
}

/**
 * Every payload in the workflows' full histories, decoded with the codec as an SRE's Temporal
 * UI would see them, as text; plus the raw (undecoded) history bytes.
 */
export async function historyTexts(stack: StackEndpoints, codec: PayloadCodec, workflowIds: string[]): Promise<string[]> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  const texts: string[] = [];
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    for (const workflowId of workflowIds) {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      // Everything outside payloads too (failure messages, heartbeat details' metadata, ...).
      texts.push(JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : v)));
      const payloads: Array<{ metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }> = [];
      collectPayloads(history, payloads);
      const decoded = await codec.decode(payloads.map((p) => ({ metadata: p.metadata ?? {}, data: p.data ?? new Uint8Array() })));
      for (const p of decoded) texts.push(Buffer.from(p.data ?? new Uint8Array()).toString('utf8'));
    }
  } finally {
    await connection.close();
  }
  return texts;
}

function collectPayloads(node: unknown, out: Array<{ metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }>): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) collectPayloads(n, out);
    return;
  }
  const o = node as Record<string, unknown>;
  if (o.data instanceof Uint8Array && o.metadata && typeof o.metadata === 'object') {
    out.push(o);
    return;
  }
  for (const v of Object.values(o)) if (v && typeof v === 'object' && !(v instanceof Uint8Array)) collectPayloads(v, out);
}

/** What is left of a cluster after delete; every list empty means nothing. */
export async function leftovers(
  stack: StackEndpoints,
  db: SqlDatabase,
  c: { resourceKey: string; addresses: string[] } & ClusterNames,
): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  // Instance processes (host-manager and its Consul) answer on their addresses.
  out.processes = [];
  for (const a of c.addresses) {
    const alive = await httpCall(`http://${a}:9701/status`, { timeoutInMs: 1_000 }).then(
      () => true,
      () => false,
    );
    if (alive) out.processes.push(a);
  }
  out.twin = (await twinResourceGroupExists(stack, c.infraResourceGroup)) ? [c.infraResourceGroup] : [];
  const blobs = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
  out.blob = (await blobs.getContainerClient(c.container).exists()) ? [c.container] : [];
  // Both names (the endpoint's and the servers' private one); an address under both counts once.
  const named = [...(await lookupA(stack.acme.dnsAddress, c.fqdn)), ...(await lookupA(stack.acme.dnsAddress, c.privateFqdn))];
  out.dns = [...new Set(named)].sort();
  const mounts = (await nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' }).mounts()) as Record<
    string,
    unknown
  >;
  out.pki = Object.keys(mounts).filter((m) => m === `${c.pkiMount}/`);
  out.secrets = await listSecretNames(db, c.resourceKey);
  const states = await db
    .query<{ name: string }>(`SELECT name FROM ${PG_STATE_SCHEMA}.states WHERE name = $1`, [c.terraformState])
    .catch(() => ({ rows: [] as Array<{ name: string }> }));
  out.terraformState = states.rows.map((r) => r.name);
  const record = await db.query<{ resource_id: string }>('SELECT resource_id FROM clusters WHERE resource_id = $1', [c.resourceKey]);
  out.record = record.rows.map((r) => r.resource_id);
  return out;
}

async function twinResourceGroupExists(stack: StackEndpoints, name: string): Promise<boolean> {
  const res = await twinGet(stack, `/subscriptions/${stack.cloud.subscriptionId}/resourcegroups/${name}?api-version=2021-04-01`);
  if (res.status !== 200 && res.status !== 404) throw new Error(`twin answered ${res.status} for resource group ${name}`);
  return res.status === 200;
}

/** A GET on the ARM twin as the control plane's service principal. */
export function twinGet(stack: StackEndpoints, path: string): Promise<HttpResult> {
  return twinCall(stack, 'GET', path);
}

/** A call on the ARM twin as the control plane's service principal. */
export async function twinCall(stack: StackEndpoints, method: string, path: string, body?: unknown): Promise<HttpResult> {
  const token = await httpCall(`${stack.cloud.url}/${stack.cloud.tenantId}/oauth2/v2.0/token`, {
    method: 'POST',
    ca: stack.cloud.caCertPem,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: stack.cloud.clientId,
      client_secret: stack.cloud.clientSecret,
      scope: 'https://management.azure.com/.default',
    }).toString(),
  });
  const { access_token } = JSON.parse(token.body) as { access_token: string };
  return httpCall(`${stack.cloud.url}${path}`, {
    method,
    ca: stack.cloud.caCertPem,
    headers: { authorization: `Bearer ${access_token}` },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
}

/**
 * A real Consul client agent joined to the cluster with the configuration listClientConfig
 * gave, on its own loopback address, with an agent token the customer made with the root token.
 * The configuration joins by the servers' private DNS name: the agent resolves it through
 * `dnsServer` (the stack's challtestsrv) as its system resolver, as a VM in the cluster's network
 * would (test/support/private-resolver.ts).
 * `http`: also serve the HTTP API on its address (port 8500) for a test's KV traffic.
 */
export async function startClientAgent(
  supervisor: Supervisor,
  o: { access: ClusterAccess; rootToken: string; consul: string; dir: string; http: boolean; dnsServer: string },
): Promise<{ address: string; configDir: string; httpUrl: string; logFile: string }> {
  const { access, rootToken } = o;
  const call = (path: string, body: unknown) =>
    httpCall(`https://${access.addresses[0]}:8501${path}`, {
      method: 'PUT',
      ca: access.caPem,
      headers: { 'x-consul-token': rootToken },
      body: JSON.stringify(body),
    });
  const rules = 'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }';
  const policy = await call('/v1/acl/policy', { Name: `client-agents-${randomUUID().slice(0, 8)}`, Rules: rules });
  if (policy.status !== 200) throw new Error(`creating the client policy failed (${policy.status}): ${policy.body}`);
  const token = await call('/v1/acl/token', { Policies: [{ Name: (JSON.parse(policy.body) as { Name: string }).Name }] });
  const agentToken = (JSON.parse(token.body) as { SecretID: string }).SecretID;
  const configDir = join(o.dir, 'config');
  mkdirSync(configDir, { recursive: true });
  mkdirSync(join(o.dir, 'data'), { recursive: true });
  writeFileSync(join(o.dir, 'ca.pem'), access.caPem);
  const address = `127.${randomInt(200, 250)}.${randomInt(1, 250)}.${randomInt(2, 250)}`;
  const config = structuredClone(access.clientConfig) as { tls: { defaults: Record<string, unknown> } };
  config.tls.defaults.ca_file = join(o.dir, 'ca.pem');
  writeFileSync(join(configDir, '10-hcs.json'), JSON.stringify(config));
  writeFileSync(
    join(configDir, '20-local.json'),
    JSON.stringify({
      node_name: `client-${address.replace(/\./g, '-')}`,
      data_dir: join(o.dir, 'data'),
      bind_addr: address,
      client_addr: address,
      node_meta: { role: 'client' },
      ports: { http: o.http ? 8500 : -1, https: -1, dns: -1, grpc: -1, grpc_tls: -1 },
      acl: { tokens: { agent: agentToken } },
    }),
  );
  const resolver = await sharedDnsForwarder(o.dnsServer);
  const { logFile } = await supervisor.start({
    name: `consul-client-${address}`,
    ...withPrivateResolver(resolver.resolvConf, o.consul, ['agent', '-config-dir', configDir]),
    readyTimeoutMs: 90_000,
    probe: async () => {
      const res = await consulCall(access, access.addresses[0]!, '/v1/agent/members', rootToken);
      const members = JSON.parse(res.body) as Array<{ Addr: string; Status: number }>;
      if (!members.some((m) => m.Addr === address && m.Status === 1)) throw new Error('client not an alive member yet');
    },
  });
  return { address, configDir, httpUrl: `http://${address}:8500`, logFile };
}
