// Where the agent's files come from: the cluster's private Blob container, read with the VM's
// own identity. An interface so the agent's logic does not depend on how it authenticates.
import { ContainerClient, RestError, type StoragePipelineOptions } from '@azure/storage-blob';
import type { TokenCredential } from '@azure/core-auth';
import type { StorageSharedKeyCredential } from '@azure/storage-blob';

export interface BlobSource {
  /** The blob's bytes and ETag, or undefined when it does not exist. */
  get(name: string): Promise<{ content: Buffer; etag: string } | undefined>;
}

export function containerBlobSource(o: {
  accountUrl: string;
  container: string;
  credential: TokenCredential | StorageSharedKeyCredential;
  pipeline?: StoragePipelineOptions;
}): BlobSource {
  const client = new ContainerClient(`${o.accountUrl.replace(/\/$/, '')}/${o.container}`, o.credential, o.pipeline);
  return {
    async get(name) {
      try {
        // One request: the bytes and the ETag of the same version.
        const res = await client.getBlobClient(name).download();
        const chunks: Buffer[] = [];
        for await (const chunk of res.readableStreamBody!) chunks.push(chunk as Buffer);
        return { content: Buffer.concat(chunks), etag: res.etag ?? '' };
      } catch (err) {
        if (err instanceof RestError && err.statusCode === 404) return undefined;
        throw err;
      }
    },
  };
}
