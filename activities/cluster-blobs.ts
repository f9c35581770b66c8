// The cluster's private Blob container: one per cluster, one prefix per server, nothing public.
// Writes carry a generation number and are conditional on the blob's ETag, so a slow or retried
// writer can never replace a newer version with an older one.
import { type BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { createHash } from 'node:crypto';

export const GENERATION_METADATA = 'hcsgeneration';

/** Container names are 3-63 lower-case letters, digits and hyphens: derived from the cluster key. */
export function clusterContainerName(clusterKey: string): string {
  return `cluster-${createHash('sha256').update(clusterKey).digest('hex').slice(0, 32)}`;
}

export function serverPrefix(serverIndex: number): string {
  return `servers/${serverIndex}/`;
}

export type WriteOutcome = 'written' | 'unchanged' | 'newer-exists';

export class ClusterBlobs {
  constructor(private readonly service: BlobServiceClient) {}

  /** The cluster's container, for streaming writers and readers (snapshots). */
  containerClient(clusterKey: string): ContainerClient {
    return this.service.getContainerClient(clusterContainerName(clusterKey));
  }

  /** Creates the cluster's container (private) if it does not exist; returns its name. */
  async ensureContainer(clusterKey: string): Promise<string> {
    const name = clusterContainerName(clusterKey);
    const container = this.service.getContainerClient(name);
    await container.createIfNotExists(); // no `access` option: no anonymous access at all
    const policy = await container.getAccessPolicy();
    if (policy.blobPublicAccess) throw new Error(`container ${name} allows public access (${policy.blobPublicAccess}); refusing to use it`);
    return name;
  }

  /**
   * Writes `content` as generation `generation` unless the blob already holds this generation
   * or a newer one. Concurrent writers race on the ETag; the highest generation wins.
   */
  async writeIfNewer(clusterKey: string, blobName: string, content: Buffer | string, generation: number): Promise<WriteOutcome> {
    const blob = this.service.getContainerClient(clusterContainerName(clusterKey)).getBlockBlobClient(blobName);
    const body = typeof content === 'string' ? Buffer.from(content) : content;
    for (let attempt = 0; attempt < 10; attempt++) {
      let etag: string | undefined;
      try {
        const props = await blob.getProperties();
        const current = Number(props.metadata?.[GENERATION_METADATA] ?? -1);
        if (current > generation) return 'newer-exists';
        if (current === generation) return 'unchanged';
        etag = props.etag;
      } catch (err) {
        if (!(err instanceof RestError && err.statusCode === 404)) throw err;
      }
      try {
        await blob.upload(body, body.length, {
          metadata: { [GENERATION_METADATA]: String(generation) },
          conditions: etag ? { ifMatch: etag } : { ifNoneMatch: '*' },
        });
        return 'written';
      } catch (err) {
        // Someone wrote in between (412 for If-Match, 409 for If-None-Match): look again.
        if (err instanceof RestError && (err.statusCode === 412 || err.statusCode === 409)) continue;
        throw err;
      }
    }
    throw new Error(`could not write ${blobName}: it kept changing under us`);
  }

  async read(clusterKey: string, blobName: string): Promise<{ content: Buffer; generation: number } | undefined> {
    const blob = this.service.getContainerClient(clusterContainerName(clusterKey)).getBlobClient(blobName);
    try {
      const res = await blob.download();
      const chunks: Buffer[] = [];
      for await (const c of res.readableStreamBody!) chunks.push(c as Buffer);
      return { content: Buffer.concat(chunks), generation: Number(res.metadata?.[GENERATION_METADATA] ?? -1) };
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** Deletes the prefixes of servers with index >= fromIndex (after a scale-down); returns the blobs removed. */
  async deleteServerPrefixesFrom(clusterKey: string, fromIndex: number): Promise<number> {
    const container = this.service.getContainerClient(clusterContainerName(clusterKey));
    let removed = 0;
    try {
      for await (const b of container.listBlobsFlat({ prefix: 'servers/' })) {
        const index = Number(b.name.split('/')[1]);
        if (Number.isInteger(index) && index >= fromIndex) {
          await container.deleteBlob(b.name, { deleteSnapshots: 'include' }).catch((err: unknown) => {
            if (!(err instanceof RestError && err.statusCode === 404)) throw err;
          });
          removed++;
        }
      }
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return removed;
      throw err;
    }
    return removed;
  }

  /** Deletes the container and everything in it; true when there was one. Safe to repeat. */
  async deleteContainer(clusterKey: string): Promise<boolean> {
    const res = await this.service.getContainerClient(clusterContainerName(clusterKey)).deleteIfExists();
    return res.succeeded;
  }
}
