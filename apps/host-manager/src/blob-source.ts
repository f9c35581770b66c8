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
  // Bounded retries: when Blob is down a sync gives up within seconds (about 4 s against a refused
  // connection, at most 3 tries of 10 s against one that hangs) and a restarting VM falls back to
  // its last-good copy instead of waiting for the SDK's default (4 tries, delays up to 2 min).
  const client = new ContainerClient(`${o.accountUrl.replace(/\/$/, '')}/${o.container}`, o.credential, {
    ...o.pipeline,
    retryOptions: { maxTries: 3, retryDelayInMs: 1_000, maxRetryDelayInMs: 4_000, tryTimeoutInMs: 10_000, ...o.pipeline?.retryOptions },
  });
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
