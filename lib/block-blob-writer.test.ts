// BlockBlobWriter on real Azurite: blocks of the given size whatever the chunks written, a few
// on their way at a time (writing waits), nothing committed by the writer itself, and a staging
// failure in the middle of the stream ends it with that failure and leaves the committed blob as
// it was.
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { BlockBlobWriter } from './block-blob-writer.js';

const stack = inject('stack');
const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
const container = service.getContainerClient(`block-writer-${randomUUID()}`);
beforeAll(() => container.create());
afterAll(() => container.deleteIfExists());

/** `data` in chunks of the given sizes, one after the other (the last size repeats). */
function chunked(data: Buffer, sizes: number[]): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const n = sizes[Math.min(i, sizes.length - 1)]!;
    chunks.push(data.subarray(offset, offset + n));
    offset += n;
  }
  return Readable.from(chunks);
}

it('stages blocks of the given size from chunks of any size, at most `concurrency` at a time, and commits nothing', async () => {
  const data = randomBytes(100_003);
  const blob = container.getBlockBlobClient('odd-chunks.bin');
  let inFlight = 0;
  let most = 0;
  const staging = blob.stageBlock.bind(blob);
  // Counting the calls only: every block still goes to Azurite.
  blob.stageBlock = async (...args: Parameters<typeof staging>) => {
    most = Math.max(most, ++inFlight);
    try {
      return await staging(...args);
    } finally {
      inFlight--;
    }
  };
  const writer = new BlockBlobWriter(blob, { blockBytes: 10_000, concurrency: 3 });
  await pipeline(chunked(data, [1, 7_777, 25_000, 3_001]), writer);
  expect(writer.bytes).toBe(data.length);
  expect(writer.blockIds).toHaveLength(11);
  expect(new Set(writer.blockIds.map((id) => id.length)).size).toBe(1);
  expect(most).toBeGreaterThan(1);
  expect(most).toBeLessThanOrEqual(3);
  expect(await blob.exists()).toBe(false);
  const staged = await blob.getBlockList('uncommitted');
  expect(staged.uncommittedBlocks?.map((b) => b.size).sort((x, y) => y - x)).toEqual([...Array<number>(10).fill(10_000), 3]);

  await blob.commitBlockList(writer.blockIds);
  expect((await blob.downloadToBuffer()).equals(data)).toBe(true);
});

it('ends with a staging failure in the middle of the stream, leaving the committed blob as it was', async () => {
  const blob = container.getBlockBlobClient('leased.bin');
  await blob.upload('before', 6);
  const data = randomBytes(50_000);
  const writer = new BlockBlobWriter(blob, { blockBytes: 10_000, concurrency: 2 });
  // A lease taken once the first block is staged: every later block is refused (no lease id).
  const lease = blob.getBlobLeaseClient();
  let sent = 0;
  const source = new Readable({
    read() {
      if (sent === 20_000) {
        void (async () => {
          while (writer.blockIds.length < 2) await new Promise((r) => setTimeout(r, 10));
          await lease.acquireLease(-1);
          this.push(data.subarray(sent));
          this.push(null);
        })();
        sent = -1;
        return;
      }
      if (sent < 0) return;
      this.push(data.subarray(sent, sent + 10_000));
      sent += 10_000;
    },
  });
  const err = await pipeline(source, writer).catch((e: unknown) => e);
  expect(writer.failure).toBeDefined();
  expect(err).toBe(writer.failure);
  expect((err as Error).message).toMatch(/lease/i);
  await lease.releaseLease();
  expect((await blob.downloadToBuffer()).toString()).toBe('before');
});

it('refuses a block size or concurrency that is not a positive integer', () => {
  const blob = container.getBlockBlobClient('never.bin');
  expect(() => new BlockBlobWriter(blob, { blockBytes: 0, concurrency: 1 })).toThrow('blockBytes must be a positive integer (got 0)');
  expect(() => new BlockBlobWriter(blob, { blockBytes: 1, concurrency: 1.5 })).toThrow('concurrency must be a positive integer (got 1.5)');
});
