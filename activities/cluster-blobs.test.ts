// The cluster's Blob container on real Azurite: private, generation-guarded writes that never go
// backwards, even with writers racing, and a repeatable delete.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { clusterContainerName, ClusterBlobs, serverPrefix } from './cluster-blobs.js';

const stack = inject('stack');
const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
const blobs = new ClusterBlobs(service);
const clusterKey = () => `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/blobs`;

it('creates one private container per cluster, idempotently', async () => {
  const key = clusterKey();
  const name = await blobs.ensureContainer(key);
  expect(await blobs.ensureContainer(key)).toBe(name);
  expect(name).toBe(clusterContainerName(key));
  expect(name).toMatch(/^[a-z0-9-]{3,63}$/);
  expect((await service.getContainerClient(name).getAccessPolicy()).blobPublicAccess).toBeUndefined();
  // Anonymous reads are refused.
  const anonymous = new BlobServiceClient(stack.blob.url).getContainerClient(name).getBlobClient(`${serverPrefix(0)}x`);
  await blobs.writeIfNewer(key, `${serverPrefix(0)}x`, 'secret', 1);
  const refused = await anonymous.download().catch((e: { statusCode?: number }) => e.statusCode);
  expect([401, 403, 404]).toContain(refused);
  await blobs.deleteContainer(key);
});

it('never replaces a newer generation with an older one, however the writers race', async () => {
  const key = clusterKey();
  await blobs.ensureContainer(key);
  const name = `${serverPrefix(1)}consul.json`;
  expect(await blobs.writeIfNewer(key, name, 'g1', 1)).toBe('written');
  expect(await blobs.writeIfNewer(key, name, 'g1', 1)).toBe('unchanged');
  expect(await blobs.writeIfNewer(key, name, 'g3', 3)).toBe('written');
  expect(await blobs.writeIfNewer(key, name, 'g2', 2)).toBe('newer-exists');
  expect(await blobs.read(key, name)).toEqual({ content: Buffer.from('g3'), generation: 3 });

  // Twenty writers with generations 4..23 at once: the highest wins, whatever the order.
  const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => blobs.writeIfNewer(key, name, `g${i + 4}`, i + 4)));
  expect(outcomes).toContain('written');
  expect(await blobs.read(key, name)).toEqual({ content: Buffer.from('g23'), generation: 23 });
  expect(await blobs.deleteContainer(key)).toBe(true);
  expect(await blobs.deleteContainer(key)).toBe(false);
  expect(await blobs.read(key, name)).toBeUndefined();
});
