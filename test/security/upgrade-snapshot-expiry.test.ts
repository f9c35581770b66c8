// Issue 11, item 8 (upgrade snapshots): every upgrade takes a snapshot, and upgrades are the
// customer's to ask for, so those snapshots must not pile up outside every cap. A real upgrade
// through the real API on the real stack records its snapshot as type UPGRADE (not MANUAL: the
// MANUAL cap does not count it, and it is not kept until deleted); retention, which runs after
// every snapshot, removes it - record and Blob - once it was taken 7 days ago. The clock is
// compressed by back-dating the records in the real store; everything else (the workflows,
// Azurite, Vault) is real. MANUAL snapshots of any age stay.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { snapshotBlobName } from '../../activities/snapshots.js';
import { UPGRADE_SNAPSHOT_TTL_DAYS } from '../../domain/snapshot-retention.js';
import { getSnapshot } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { arm, clusterNames, followLocation, lifecycleConfig } from '../support/lifecycle.js';
import { clusterPath } from './support.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const subscriptionId = randomUUID();
const id = clusterPath(subscriptionId, 'rg-expiry', `expiry-${randomUUID().slice(0, 6)}`);
const key = id.toLowerCase();
const DAY_MS = 86_400_000;
let cp: ControlPlane;

interface SnapshotView {
  id: string;
  name: string;
  type: string;
  state: string;
}

async function snapshots(): Promise<SnapshotView[]> {
  const res = await arm(cp, 'POST', `${id}/listSnapshots`);
  expect(res.status).toBe(200);
  return (JSON.parse(res.body) as { value: SnapshotView[] }).value;
}

/** Starts an action and follows it to its end. */
async function run(action: string, body: unknown): Promise<void> {
  const res = await arm(cp, 'POST', `${id}/${action}`, body);
  expect(res.status, res.body).toBe(202);
  const done = await followLocation(cp, String(res.headers.location));
  expect(done.status, done.body).toBe(200);
}

/** Moves a snapshot's times into the past, as if it had been taken `daysAgo` days ago. */
async function backdate(snapshotId: string, daysAgo: number): Promise<void> {
  const at = new Date(Date.now() - daysAgo * DAY_MS);
  const { rowCount } = await cp.db.query(
    'UPDATE snapshots SET requested_at = $3, finished_at = $3 WHERE resource_id = $1 AND snapshot_id = $2',
    [key, snapshotId, at],
  );
  expect(rowCount).toBe(1);
}

async function blobExists(snapshotId: string): Promise<boolean> {
  const container = new BlobServiceClient(
    stack.blob.url,
    new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey),
  ).getContainerClient((await clusterNames(cp.db, key)).container);
  return container.getBlobClient(snapshotBlobName(snapshotId)).exists();
}

beforeAll(async () => {
  if (stack.database.kind !== 'postgres') throw new Error('this test needs the PostgreSQL store (terraform pg backend)');
  cp = await startControlPlane(stack, { lifecycle: lifecycleConfig(stack) });
  await cp.registerSubscription(subscriptionId);
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: { consulVersion: older, serverCount: 1, network: { cidr: '10.184.0.0/16' } },
  });
  expect(put.status, put.body).toBe(201);
  const done = await followLocation(cp, String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'));
  expect(done.status, done.body).toBe(200);
}, 300_000);

afterAll(async () => {
  const del = await arm(cp, 'DELETE', id).catch(() => undefined);
  if (del?.status === 202) await followLocation(cp, String(del.headers.location)).catch(() => undefined);
  await cp?.close();
}, 300_000);

describe.sequential('the snapshot an upgrade takes expires after 7 days', () => {
  let upgradeSnapshot = '';
  let oldManual = '';

  it('an upgrade records its snapshot as type UPGRADE', async () => {
    expect(older).not.toBe(newer);
    await run('upgrade', { consulVersion: newer });
    const taken = (await snapshots()).filter((s) => s.name === `before upgrade to ${newer}`);
    expect(taken).toEqual([expect.objectContaining({ type: 'SNAPSHOT_TYPE_UPGRADE', state: 'SNAPSHOT_STATE_COMPLETED' })]);
    upgradeSnapshot = taken[0]!.id;
    expect(await blobExists(upgradeSnapshot)).toBe(true);
  }, 300_000);

  it('retention keeps it while it is younger than 7 days, and never touches MANUAL snapshots', async () => {
    expect(UPGRADE_SNAPSHOT_TTL_DAYS).toBe(7);
    await run('createSnapshot', { name: 'old-manual' });
    oldManual = (await snapshots()).find((s) => s.name === 'old-manual')!.id;
    await backdate(oldManual, 400);
    await backdate(upgradeSnapshot, 7 - 1 / 24);
    // Every snapshot runs retention afterwards.
    await run('createSnapshot', { name: 'second-manual' });
    const ids = (await snapshots()).map((s) => s.id);
    expect(ids).toContain(upgradeSnapshot);
    expect(ids).toContain(oldManual);
    expect(await blobExists(upgradeSnapshot)).toBe(true);
  }, 300_000);

  it('once it was taken 7 days ago the next retention removes its record and its blob; MANUAL ones stay', async () => {
    await backdate(upgradeSnapshot, 7 + 1 / 24);
    await run('createSnapshot', { name: 'third-manual' });
    const after = await snapshots();
    expect(after.map((s) => s.id)).not.toContain(upgradeSnapshot);
    expect(await getSnapshot(cp.db, key, upgradeSnapshot)).toBeUndefined();
    expect(await blobExists(upgradeSnapshot)).toBe(false);
    expect(
      after
        .filter((s) => s.type === 'SNAPSHOT_TYPE_MANUAL')
        .map((s) => s.name)
        .sort(),
    ).toEqual(['old-manual', 'second-manual', 'third-manual']);
    expect(await blobExists(oldManual)).toBe(true);
  }, 300_000);
});
