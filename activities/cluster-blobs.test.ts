// The cluster's Blob container on real Azurite: private, generation-guarded writes that never go
// backwards, even with writers racing, a repeatable delete, and a container of another cluster
// under the same name neither taken over nor deleted.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes, randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import { CLUSTER_ID_METADATA, ClusterBlobs, serverPrefix } from './cluster-blobs.js';
import { DERIVED_NAME_OWNED, memoryClusterNames, type ClusterNamesOf } from './cluster-names.js';

const stack = inject('stack');
const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
const names = memoryClusterNames();
const blobs = new ClusterBlobs(service, names);
const clusterKey = () => `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/blobs`;

it('creates one private container per cluster, idempotently', async () => {
  const key = clusterKey();
  const name = await blobs.ensureContainer(key);
  expect(await blobs.ensureContainer(key)).toBe(name);
  const { clusterId, names: derived } = await names(key);
  expect(name).toBe(derived.container);
  expect(name).toBe(`cluster-${clusterId}`);
  expect(name).toMatch(/^[a-z0-9-]{3,63}$/);
  expect((await service.getContainerClient(name).getProperties()).metadata).toEqual({ [CLUSTER_ID_METADATA]: clusterId });
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

it("refuses another cluster's container under the same name, and never deletes it", async () => {
  const key = clusterKey();
  const name = await blobs.ensureContainer(key);
  await blobs.writeIfNewer(key, `${serverPrefix(0)}manifest.json`, 'victim', 7);
  // A second cluster whose container name is forced onto the first one's (its own id differs).
  const intruderId = randomBytes(16).toString('hex');
  const forced: ClusterNamesOf = async () => {
    const victim = await names(key);
    return { clusterId: intruderId, names: { ...victim.names }, owner: { clusterId: intruderId } };
  };
  const intruder = new ClusterBlobs(service, forced);
  await expect(intruder.ensureContainer('/subscriptions/x/intruder')).rejects.toMatchObject({
    type: DERIVED_NAME_OWNED,
    nonRetryable: true,
  });
  expect(await intruder.deleteContainer('/subscriptions/x/intruder')).toBe(false);
  // Untouched: the mark, the blob and its generation.
  expect((await service.getContainerClient(name).getProperties()).metadata?.[CLUSTER_ID_METADATA]).toBe((await names(key)).clusterId);
  expect(await blobs.read(key, `${serverPrefix(0)}manifest.json`)).toEqual({ content: Buffer.from('victim'), generation: 7 });
  // An unmarked container under a cluster's name (made before ids) is that cluster's: it gets marked.
  const legacyKey = clusterKey();
  const legacy = (await names(legacyKey)).names.container;
  await service.getContainerClient(legacy).create();
  expect(await blobs.ensureContainer(legacyKey)).toBe(legacy);
  expect((await service.getContainerClient(legacy).getProperties()).metadata).toEqual({
    [CLUSTER_ID_METADATA]: (await names(legacyKey)).clusterId,
  });
  expect(await blobs.deleteContainer(legacyKey)).toBe(true);
  expect(await blobs.deleteContainer(key)).toBe(true);
});
