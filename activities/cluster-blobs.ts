// The cluster's private Blob container: one per cluster, one prefix per server, nothing public.
// Writes carry a generation number and are conditional on the blob's ETag, so a slow or retried
// writer can never replace a newer version with an older one.
import { type BlobServiceClient, type ContainerClient, RestError } from '@azure/storage-blob';
import { claim, type ClusterNamesOf, ownership } from './cluster-names.js';

export const GENERATION_METADATA = 'hcsgeneration';
/** Container metadata naming the cluster the container belongs to (metadata names are identifiers). */
export const CLUSTER_ID_METADATA = 'hcsclusterid';

export function serverPrefix(serverIndex: number): string {
  return `servers/${serverIndex}/`;
}

export type WriteOutcome = 'written' | 'unchanged' | 'newer-exists';

export class ClusterBlobs {
  /** `names` gives each cluster's container name (from its random id) and its id. */
  constructor(
    private readonly service: BlobServiceClient,
    private readonly names: ClusterNamesOf,
  ) {}

  private async container(clusterKey: string): Promise<ContainerClient> {
    return this.service.getContainerClient((await this.names(clusterKey)).names.container);
  }

  /** The cluster's container, for streaming writers and readers (snapshots). */
  containerClient(clusterKey: string): Promise<ContainerClient> {
    return this.container(clusterKey);
  }

  /**
   * Creates the cluster's container (private, marked with the cluster's id) if it does not exist;
   * returns its name. A container of that name marked for another cluster is refused
   * (DerivedNameOwnedByAnotherCluster) and left as it is; an unmarked one (made before ids) is
   * marked.
   */
  async ensureContainer(clusterKey: string): Promise<string> {
    const { names, owner } = await this.names(clusterKey);
    const name = names.container;
    const container = this.service.getContainerClient(name);
    // No `access` option: no anonymous access at all. The mark is set in the same request.
    const created = await container.createIfNotExists({ metadata: { [CLUSTER_ID_METADATA]: owner.clusterId } });
    if (!created.succeeded) {
      const found = (await container.getProperties()).metadata?.[CLUSTER_ID_METADATA];
      claim(`the Blob container ${name}`, found ?? null, owner);
      if (found === undefined) await container.setMetadata({ [CLUSTER_ID_METADATA]: owner.clusterId });
    }
    const policy = await container.getAccessPolicy();
    if (policy.blobPublicAccess) throw new Error(`container ${name} allows public access (${policy.blobPublicAccess}); refusing to use it`);
    return name;
  }

  /**
   * Writes `content` as generation `generation` unless the blob already holds this generation
   * or a newer one. Concurrent writers race on the ETag; the highest generation wins.
   */
  async writeIfNewer(clusterKey: string, blobName: string, content: Buffer | string, generation: number): Promise<WriteOutcome> {
    const blob = (await this.container(clusterKey)).getBlockBlobClient(blobName);
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
    const blob = (await this.container(clusterKey)).getBlobClient(blobName);
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
    const container = await this.container(clusterKey);
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

  /**
   * Deletes the container and everything in it; true when there was one. Safe to repeat. A
   * container of that name that belongs to another cluster is left alone (false).
   */
  async deleteContainer(clusterKey: string): Promise<boolean> {
    const { names, owner } = await this.names(clusterKey);
    const container = this.service.getContainerClient(names.container);
    let found: string | undefined;
    try {
      found = (await container.getProperties()).metadata?.[CLUSTER_ID_METADATA];
    } catch (err) {
      if (err instanceof RestError && err.statusCode === 404) return false;
      throw err;
    }
    if (ownership(found ?? null, owner) !== 'ours') return false;
    const res = await container.deleteIfExists();
    return res.succeeded;
  }
}
