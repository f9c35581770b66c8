// What the dependency-outage chaos run (deps.ts) checks after each operation: the cluster's
// servers as Consul, the twin and the store see them, and that nothing was made twice (PKI
// mounts and issuers, Blob containers, twin resource groups, operations, snapshots); plus the
// activity retries Temporal recorded, as evidence that a fault really hit.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Client, Connection } from '@temporalio/client';
import { ConsulAdmin } from '../../activities/consul-admin.js';
import { SECRET } from '../../contract/secret-names.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { httpCall } from '../../lib/http.js';
import type { SqlDatabase } from '../../store/database.js';
import { listOperations } from '../../store/operations.js';
import { getSecret } from '../../store/secrets.js';
import { listSnapshots } from '../../store/snapshots.js';
import { clusterNames, twinGet, vaultPki } from '../support/lifecycle.js';

async function clusterAdmin(stack: StackEndpoints, db: SqlDatabase, resourceKey: string, address: string) {
  const pki = vaultPki(stack, db);
  const secret = (await getSecret(db, resourceKey, SECRET.managementToken))!;
  const token = (JSON.parse(await pki.decrypt(secret)) as { secretId: string }).secretId;
  return { admin: new ConsulAdmin({ url: `https://${address}:8501`, caPem: await pki.clusterCaBundle(resourceKey) }), token };
}

/** Raft voters when the cluster is healthy with `addresses.length` servers, else -1. */
export async function raftVoters(stack: StackEndpoints, db: SqlDatabase, resourceKey: string, addresses: string[]): Promise<number> {
  const { admin, token } = await clusterAdmin(stack, db, resourceKey, addresses[0]!);
  const report = await admin.health(token, addresses.length);
  return report.healthy ? report.voters : -1;
}

export async function serverVersions(stack: StackEndpoints, db: SqlDatabase, resourceKey: string, addresses: string[]): Promise<string[]> {
  const { admin, token } = await clusterAdmin(stack, db, resourceKey, addresses[0]!);
  return Promise.all(addresses.map(async (a) => (await admin.member(token, a))?.version ?? 'absent'));
}

async function twinList<T>(stack: StackEndpoints, path: string): Promise<T[]> {
  const res = await twinGet(stack, path);
  if (res.status !== 200) throw new Error(`twin answered ${res.status} for ${path.split('?')[0]}`);
  return (JSON.parse(res.body) as { value: T[] }).value;
}

export interface Duplicates {
  /** Twin resource groups tagged with the cluster's id. */
  resourceGroups: number;
  instances: number;
  pkiMounts: number;
  pkiIssuers: number;
  containers: number;
  /** Operations of the cluster by kind. */
  operations: Record<string, number>;
  upgradeSnapshots: number;
}

/** Counts everything of the cluster that must exist exactly once (or once per server). */
export async function countOwned(stack: StackEndpoints, db: SqlDatabase, resourceKey: string): Promise<Duplicates> {
  const names = await clusterNames(db, resourceKey);
  const sub = `/subscriptions/${stack.cloud.subscriptionId}`;
  const groups = await twinList<{ name: string; tags?: Record<string, string> }>(stack, `${sub}/resourcegroups?api-version=2021-04-01`);
  const owned = groups.filter((g) => g.tags?.['hcs-cluster-id'] === names.clusterId || g.name === names.infraResourceGroup);
  let instances = 0;
  for (const g of owned) {
    const base = `${sub}/resourceGroups/${g.name}/providers/Microsoft.Compute/virtualMachineScaleSets`;
    for (const s of await twinList<{ name: string }>(stack, `${base}?api-version=2024-07-01`))
      instances += (await twinList<unknown>(stack, `${base}/${s.name}/virtualMachines?api-version=2024-07-01`)).length;
  }
  const vault = (path: string, method = 'GET') =>
    httpCall(`${stack.vault.address}/v1/${path}`, { method, headers: { 'x-vault-token': stack.vault.token } });
  const mounts = JSON.parse((await vault('sys/mounts')).body) as { data: Record<string, { description?: string }> };
  const pkiMounts = Object.entries(mounts.data).filter(
    ([path, m]) => path === `${names.pkiMount}/` || (m.description ?? '').includes(names.clusterId),
  );
  let pkiIssuers = 0;
  for (const [path] of pkiMounts) {
    const issuers = await vault(`${path}issuers`, 'LIST');
    if (issuers.status === 200) pkiIssuers += (JSON.parse(issuers.body) as { data: { keys: string[] } }).data.keys.length;
  }
  const blobs = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
  let containers = 0;
  for await (const c of blobs.listContainers({ includeMetadata: true }))
    if (c.name === names.container || Object.values(c.metadata ?? {}).includes(names.clusterId)) containers++;
  const operations: Record<string, number> = {};
  for (const op of await listOperations(db, resourceKey)) operations[op.kind] = (operations[op.kind] ?? 0) + 1;
  const upgradeSnapshots = (await listSnapshots(db, resourceKey)).filter((s) => s.kind === 'UPGRADE').length;
  return { resourceGroups: owned.length, instances, pkiMounts: pkiMounts.length, pkiIssuers, containers, operations, upgradeSnapshots };
}

/** Activities Temporal recorded with more than one attempt in a workflow's history: "name xN". */
export async function retriedActivities(stack: StackEndpoints, workflowId: string): Promise<string[]> {
  const connection = await Connection.connect({ address: stack.temporal.address });
  try {
    const client = new Client({ connection, namespace: stack.temporal.namespace });
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = new Map<string, string>();
    const out: string[] = [];
    for (const e of history.events ?? []) {
      const id = String(e.eventId);
      if (e.activityTaskScheduledEventAttributes) scheduled.set(id, e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) out.push(`${scheduled.get(String(started.scheduledEventId)) ?? '?'} x${started.attempt}`);
    }
    return out;
  } finally {
    await connection.close();
  }
}
