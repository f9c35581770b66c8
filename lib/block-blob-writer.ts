// A Writable that stages what it is written as the blocks of a block blob, a few at a time, and
// commits nothing: the caller commits `blockIds` once the whole stream has arrived, so a failure
// anywhere leaves no committed blob (the service drops uncommitted blocks on its own).
// Memory is about (concurrency + 1) x blockBytes: each block is one Buffer, sent as it is (the
// SDK can retry it), and writing waits while `concurrency` blocks are on their way.
import type { BlockBlobClient } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';

export interface BlockBlobWriterOptions {
  blockBytes: number;
  /** Blocks staged at the same time. */
  concurrency: number;
}

export class BlockBlobWriter extends Writable {
  /** The ids of the blocks staged so far, in order: what to commit. */
  readonly blockIds: string[] = [];
  /** Bytes written so far. */
  bytes = 0;
  /** The staging failure that ended this writer, if one did (not one passed in by a pipeline). */
  failure: Error | undefined;

  readonly #prefix = randomUUID();
  readonly #abort = new AbortController();
  #parts: Buffer[] = [];
  #partBytes = 0;
  #inFlight = 0;
  /** A write's or the final callback, held while too many blocks are on their way. */
  #held: (() => void) | undefined;

  constructor(
    private readonly blob: BlockBlobClient,
    private readonly o: BlockBlobWriterOptions,
  ) {
    super();
    if (!Number.isInteger(o.blockBytes) || o.blockBytes < 1)
      throw new RangeError(`blockBytes must be a positive integer (got ${o.blockBytes})`);
    if (!Number.isInteger(o.concurrency) || o.concurrency < 1)
      throw new RangeError(`concurrency must be a positive integer (got ${o.concurrency})`);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#parts.push(chunk);
    this.#partBytes += chunk.length;
    this.bytes += chunk.length;
    while (this.#partBytes >= this.o.blockBytes) this.#stage(this.#take(this.o.blockBytes));
    this.#whenBelow(this.o.concurrency, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.#partBytes > 0) this.#stage(this.#take(this.#partBytes));
    this.#whenBelow(1, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#abort.abort();
    this.#parts = [];
    callback(error);
  }

  /** Calls `callback` once fewer than `limit` blocks are on their way. */
  #whenBelow(limit: number, callback: () => void): void {
    if (this.#inFlight < limit) return callback();
    this.#held = () => {
      if (this.#inFlight >= limit) return;
      this.#held = undefined;
      callback();
    };
  }

  /** The next `n` written bytes as one Buffer. */
  #take(n: number): Buffer {
    const block = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const part = this.#parts[0]!;
      const used = Math.min(part.length, n - filled);
      part.copy(block, filled, 0, used);
      filled += used;
      if (used === part.length) this.#parts.shift();
      else this.#parts[0] = part.subarray(used);
    }
    this.#partBytes -= n;
    return block;
  }

  #stage(body: Buffer): void {
    // Every id of a blob has the same length: the upload's prefix and a six-digit counter.
    const id = Buffer.from(`${this.#prefix}-${String(this.blockIds.length).padStart(6, '0')}`).toString('base64');
    this.blockIds.push(id);
    this.#inFlight++;
    this.blob.stageBlock(id, body, body.length, { abortSignal: this.#abort.signal }).then(
      () => {
        this.#inFlight--;
        this.#held?.();
      },
      (err: unknown) => {
        this.#inFlight--;
        if (this.failure || this.destroyed) return;
        this.failure = err instanceof Error ? err : new Error(String(err));
        this.destroy(this.failure);
      },
    );
  }
}
