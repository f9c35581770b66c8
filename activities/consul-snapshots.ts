// Consul snapshots streamed into the cluster's Blob container, encrypted at rest with a key of
// ours (the segmented AES-256-GCM format: lib/segmented-aes-gcm.ts), and streamed back into
// Consul for a restore (the HTTP calls: ConsulAdmin). Nothing here holds a whole snapshot in
// memory: Consul's answer flows through a SHA-256 and the cipher into a block upload, and a
// restore flows from the blob download through the decipher into Consul's PUT.
import { type ContainerClient, RestError } from '@azure/storage-blob';
import { createHash } from 'node:crypto';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  checkKey,
  decryptStream,
  DEFAULT_SEGMENT_BYTES,
  encryptedSize,
  encryptStream,
  MAX_SEGMENT_BYTES,
  SEGMENTED_FORMAT,
} from '../lib/segmented-aes-gcm.js';
import { BlockBlobWriter } from '../lib/block-blob-writer.js';
import { ConsulAdmin, type ConsulEndpoint } from './consul-admin.js';

export interface SnapshotEndpoint extends ConsulEndpoint {
  /** A Consul ACL token allowed to save and restore snapshots (operator/management). */
  token: string;
}

/** Identifies the stored format in the blob's metadata. */
export const SNAPSHOT_FORMAT = SEGMENTED_FORMAT;
/** Block size and parallel blocks of the upload: its memory is about (concurrency + 1) x block size. */
export const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;
export const UPLOAD_CONCURRENCY = 4;

/** Blob metadata keys (Azure folds them to lower case). */
export const SNAPSHOT_METADATA = {
  format: 'hcssnapshotformat',
  segmentBytes: 'hcssegmentbytes',
  plaintextBytes: 'hcsplaintextbytes',
  plaintextSha256: 'hcsplaintextsha256',
  consulIndex: 'hcsconsulindex',
} as const;

// ---------------------------------------------------------------------------------------------
// Hashing on the way through

/** Passes bytes on unchanged while hashing and counting them. */
class DigestTap extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly onProgress?: (bytes: number) => void) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onProgress?.(this.bytes);
    callback(null, chunk);
  }
}

/**
 * Checks size and SHA-256 of what passes through, and holds the last chunk back until both are
 * right: a mismatch fails the stream before the final bytes go out, so a receiver that needs the
 * whole body (Consul's restore, with its Content-Length) never gets a complete wrong snapshot.
 */
class VerifyTap extends Transform {
  readonly #hash = createHash('sha256');
  #bytes = 0;
  #held: Buffer | undefined;

  constructor(
    private readonly expected: { bytes: number; sha256: string },
    private readonly onProgress?: (bytes: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes > this.expected.bytes) {
      callback(new Error(`the snapshot is longer than the ${this.expected.bytes} bytes recorded at save (already ${this.#bytes})`));
      return;
    }
    const previous = this.#held;
    this.#held = chunk;
    this.onProgress?.(this.#bytes - chunk.length);
    callback(null, previous);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#bytes !== this.expected.bytes) {
      callback(new Error(`the snapshot has ${this.#bytes} bytes, but ${this.expected.bytes} were recorded at save`));
      return;
    }
    const actual = this.#hash.digest('hex');
    if (actual !== this.expected.sha256) {
      callback(new Error(`sha256 mismatch: the decrypted snapshot hashes to ${actual}, but ${this.expected.sha256} was recorded at save`));
      return;
    }
    this.onProgress?.(this.#bytes);
    callback(null, this.#held);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Save and restore

/** The Consul calls the pipeline makes (ConsulAdmin's snapshot methods). */
export type SnapshotConsul = Pick<ConsulAdmin, 'snapshot' | 'restoreSnapshot'>;

/** Makes the Consul client for an endpoint: the worker passes its deps' factory; by default a ConsulAdmin. */
const defaultConsul = (endpoint: SnapshotEndpoint): SnapshotConsul => new ConsulAdmin(endpoint);

export interface SaveSnapshotInput {
  consul: SnapshotEndpoint;
  consulAdmin?: (endpoint: SnapshotEndpoint) => SnapshotConsul;
  container: ContainerClient;
  blobName: string;
  /** 32-byte key; the caller keeps it (never stored beside the blob). */
  key: Buffer;
  /** Called with the plaintext bytes read from Consul so far (for heartbeats). */
  onProgress?: (bytes: number) => void;
  /** Ends the save (the activity was cancelled, or its attempt timed out): nothing is committed. */
  signal?: AbortSignal;
}

export interface SaveSnapshotResult {
  /** Size of the snapshot archive as Consul produced it. */
  sizeBytes: number;
  /** Size of the encrypted blob. */
  storedBytes: number;
  /** SHA-256 (hex) of the snapshot archive. */
  sha256: string;
  /** Consul's X-Consul-Index of the snapshot. */
  consulIndex?: string;
}

/**
 * Streams GET /v1/snapshot through a SHA-256 and the cipher into the blocks of a block blob
 * (lib/block-blob-writer.ts: bounded buffers, several blocks on their way at once), then commits
 * the block list with the plaintext size and hash as the blob's metadata, in one call. A blob is
 * written only when Consul answered 200, and committed only when the whole snapshot has arrived.
 */
export async function saveSnapshot(a: SaveSnapshotInput): Promise<SaveSnapshotResult> {
  checkKey(a.key);
  a.signal?.throwIfAborted();
  const { archive, consulIndex } = await (a.consulAdmin ?? defaultConsul)(a.consul).snapshot(a.consul.token);

  const blob = a.container.getBlockBlobClient(a.blobName);
  const digest = new DigestTap(a.onProgress);
  const writer = new BlockBlobWriter(blob, { blockBytes: UPLOAD_BLOCK_BYTES, concurrency: UPLOAD_CONCURRENCY });
  try {
    await pipeline(archive, digest, encryptStream(a.key), writer, { signal: a.signal });
  } catch (err) {
    // The upload's own failure, the activity's end, or else Consul's side.
    if (writer.failure) throw new Error(`snapshot save: uploading to blob ${a.blobName} failed: ${describe(writer.failure)}`);
    if (a.signal?.aborted) throw new Error(`snapshot save: cancelled after ${digest.bytes} bytes read from Consul`);
    throw new Error(`snapshot save: reading the snapshot from Consul failed after ${digest.bytes} bytes: ${describe(err)}`);
  }

  const sizeBytes = digest.bytes;
  const sha256 = digest.hash.digest('hex');
  const storedBytes = encryptedSize(sizeBytes);
  if (writer.bytes !== storedBytes) {
    throw new Error(`snapshot save: ${writer.bytes} bytes were staged for blob ${a.blobName}, but ${storedBytes} were expected`);
  }
  await blob
    .commitBlockList(writer.blockIds, {
      abortSignal: a.signal,
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      metadata: {
        [SNAPSHOT_METADATA.format]: SNAPSHOT_FORMAT,
        [SNAPSHOT_METADATA.segmentBytes]: String(DEFAULT_SEGMENT_BYTES),
        [SNAPSHOT_METADATA.plaintextBytes]: String(sizeBytes),
        [SNAPSHOT_METADATA.plaintextSha256]: sha256,
        ...(consulIndex ? { [SNAPSHOT_METADATA.consulIndex]: consulIndex } : {}),
      },
    })
    .catch((err: unknown) => {
      throw new Error(`snapshot save: committing blob ${a.blobName} failed: ${describe(err)}`);
    });
  const props = await blob.getProperties();
  if (props.contentLength !== storedBytes) {
    throw new Error(`snapshot save: blob ${a.blobName} holds ${props.contentLength} bytes, but ${storedBytes} were written`);
  }
  return { sizeBytes, storedBytes, sha256, ...(consulIndex ? { consulIndex } : {}) };
}

export interface RestoreSnapshotInput {
  consul: SnapshotEndpoint;
  consulAdmin?: (endpoint: SnapshotEndpoint) => SnapshotConsul;
  container: ContainerClient;
  blobName: string;
  key: Buffer;
  /** Called with the plaintext bytes sent to Consul so far (for heartbeats). */
  onProgress?: (bytes: number) => void;
  /** Ends the restore before Consul has the whole snapshot (the activity was cancelled). */
  signal?: AbortSignal;
}

interface StoredSnapshot {
  sizeBytes: number;
  sha256: string;
  etag: string;
}

/** What a complete save recorded on the blob; a blob without it is refused. */
async function storedSnapshot(container: ContainerClient, blobName: string): Promise<StoredSnapshot> {
  let props;
  try {
    props = await container.getBlobClient(blobName).getProperties();
  } catch (err) {
    if (err instanceof RestError && err.statusCode === 404) {
      throw new Error(`snapshot restore: blob ${blobName} does not exist in container ${container.containerName}`);
    }
    throw err;
  }
  const meta = props.metadata ?? {};
  const where = `snapshot restore: blob ${blobName}`;
  if (meta[SNAPSHOT_METADATA.format] !== SNAPSHOT_FORMAT) {
    throw new Error(`${where} is not in format ${SNAPSHOT_FORMAT} (metadata says ${meta[SNAPSHOT_METADATA.format] ?? 'nothing'})`);
  }
  const sizeBytes = Number(meta[SNAPSHOT_METADATA.plaintextBytes]);
  const sha256 = meta[SNAPSHOT_METADATA.plaintextSha256];
  const segmentBytes = Number(meta[SNAPSHOT_METADATA.segmentBytes]);
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes < 0 || !sha256 || !/^[0-9a-f]{64}$/.test(sha256)) {
    throw new Error(`${where} has no plaintext size and sha256 in its metadata: its save did not complete`);
  }
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) {
    throw new Error(`${where} has an invalid segment size in its metadata (${meta[SNAPSHOT_METADATA.segmentBytes]})`);
  }
  const stored = props.contentLength ?? -1;
  if (encryptedSize(sizeBytes, segmentBytes) !== stored) {
    throw new Error(`${where} holds ${stored} bytes, which does not match the ${sizeBytes} plaintext bytes recorded at save`);
  }
  return { sizeBytes, sha256, etag: props.etag! };
}

/**
 * Streams the blob through the decipher into PUT /v1/snapshot with an explicit Content-Length
 * (Consul ignores chunked request bodies). A wrong key, an altered blob or a hash that does not
 * match the one recorded at save aborts the request before Consul has the whole snapshot.
 */
export async function restoreSnapshot(a: RestoreSnapshotInput): Promise<{ sizeBytes: number }> {
  checkKey(a.key);
  a.signal?.throwIfAborted();
  const stored = await storedSnapshot(a.container, a.blobName);
  const download = await a.container.getBlobClient(a.blobName).download(0, undefined, {
    conditions: { ifMatch: stored.etag }, // the very version whose metadata we read
    maxRetryRequests: 5,
  });
  const body = download.readableStreamBody as Readable | undefined;
  if (!body) throw new Error(`snapshot restore: blob ${a.blobName} came without a body`);

  const verify = new VerifyTap({ bytes: stored.sizeBytes, sha256: stored.sha256 }, a.onProgress);
  const cancel = () => body.destroy(new Error('the restore was cancelled'));
  a.signal?.addEventListener('abort', cancel, { once: true });
  try {
    await (a.consulAdmin ?? defaultConsul)(a.consul).restoreSnapshot(a.consul.token, {
      what: `snapshot restore of ${a.blobName}`,
      sizeBytes: stored.sizeBytes,
      body: [body, decryptStream(a.key), verify],
    });
  } finally {
    a.signal?.removeEventListener('abort', cancel);
  }
  return { sizeBytes: stored.sizeBytes };
}
