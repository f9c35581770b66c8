// The segmented AES-256-GCM stream format: round trips across segment boundaries, the size
// arithmetic, and a precise error for a wrong key, any flipped byte, any cut and appended bytes.
import { randomBytes } from 'node:crypto';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import {
  decryptStream,
  DEFAULT_SEGMENT_BYTES,
  encryptedSize,
  encryptStream,
  HEADER_BYTES,
  plaintextSize,
  SEGMENT_OVERHEAD_BYTES,
  SnapshotDecryptError,
} from './segmented-aes-gcm.js';

/** Runs `input` (in pieces of `piece` bytes) through a transform; keeps what came out before an error. */
async function through(t: Transform, input: Buffer, piece = 65_536): Promise<{ out: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += piece) chunks.push(input.subarray(i, i + piece));
  const out: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      out.push(c);
      cb();
    },
  });
  let error: unknown;
  await pipeline(Readable.from(chunks), t, sink).catch((e: unknown) => (error = e));
  return { out: Buffer.concat(out), error };
}

async function encrypt(key: Buffer, plain: Buffer, segmentBytes?: number, piece?: number): Promise<Buffer> {
  const r = await through(encryptStream(key, segmentBytes ? { segmentBytes } : {}), plain, piece);
  if (r.error) throw r.error as Error;
  return r.out;
}

async function decryptFails(key: Buffer, stored: Buffer, piece?: number): Promise<{ out: Buffer; error: SnapshotDecryptError }> {
  const r = await through(decryptStream(key), stored, piece);
  expect(r.error).toBeInstanceOf(SnapshotDecryptError);
  return { out: r.out, error: r.error as SnapshotDecryptError };
}

describe('segmented AES-256-GCM stream', () => {
  const key = randomBytes(32);

  it.each([0, 1, DEFAULT_SEGMENT_BYTES - 1, DEFAULT_SEGMENT_BYTES, DEFAULT_SEGMENT_BYTES + 1, 3 * DEFAULT_SEGMENT_BYTES + 5])(
    'round-trips %i bytes with 1 MiB segments, fed in odd pieces',
    async (size) => {
      const plain = randomBytes(size);
      const stored = await encrypt(key, plain, undefined, 100_003);
      expect(stored.length).toBe(encryptedSize(size));
      expect(plaintextSize(stored.length)).toBe(size);
      const back = await through(decryptStream(key), stored, 77_777);
      expect(back.error).toBeUndefined();
      expect(back.out.equals(plain)).toBe(true);
    },
  );

  it('round-trips every size from 0 to 100 bytes across many 16-byte segment boundaries, whatever the piece sizes', async () => {
    for (let size = 0; size <= 100; size++) {
      const plain = randomBytes(size);
      for (const piece of [1, 7, 16, 17, 1000]) {
        const stored = await encrypt(key, plain, 16, piece);
        expect(stored.length).toBe(encryptedSize(size, 16));
        expect(plaintextSize(stored.length, 16)).toBe(size);
        for (const readPiece of [1, 5, 36, 4096]) {
          const back = await through(decryptStream(key), stored, readPiece);
          expect(back.error).toBeUndefined();
          expect(back.out.equals(plain)).toBe(true);
        }
      }
    }
  });

  it('stores nothing readable: a fresh salt per stream, no plaintext in the output', async () => {
    const plain = Buffer.from('consul-snapshot '.repeat(10_000));
    const [a, b] = [await encrypt(key, plain), await encrypt(key, plain)];
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(0, 8).toString('latin1')).toBe('HCSSNAP\x01');
    expect(a.includes(Buffer.from('consul-snapshot'))).toBe(false);
  });

  it('names a wrong key as such and releases no plaintext', async () => {
    const stored = await encrypt(key, randomBytes(5000), 1024);
    const { out, error } = await decryptFails(randomBytes(32), stored);
    expect(error.code).toBe('wrong-key');
    expect(error.message).toMatch(/^wrong key: the key check in the snapshot header does not match this key/);
    expect(out.length).toBe(0);
  });

  it('refuses keys that are not 32 bytes and segment sizes out of range', () => {
    expect(() => encryptStream(randomBytes(16))).toThrow(/the snapshot key must be a 32-byte Buffer \(got 16 bytes\)/);
    expect(() => decryptStream(Buffer.alloc(0))).toThrow(/32-byte Buffer/);
    expect(() => encryptStream(key, { segmentBytes: 0 })).toThrow(/segment size must be an integer from 1/);
    expect(() => encryptStream(key, { segmentBytes: 32 * 1024 * 1024 })).toThrow(/segment size/);
    expect(() => plaintextSize(HEADER_BYTES + 3)).toThrow(/is not a possible size/);
  });

  it('fails precisely on a flipped byte in a segment, releasing only the segments before it', async () => {
    const plain = randomBytes(5 * 1024);
    const stored = await encrypt(key, plain, 1024);
    const segment = 1024 + SEGMENT_OVERHEAD_BYTES;
    for (const [where, offset] of [
      ['ciphertext', HEADER_BYTES + segment + 4 + 100],
      ['tag', HEADER_BYTES + 2 * segment - 1],
    ] as const) {
      const altered = Buffer.from(stored);
      altered[offset]! ^= 0x01;
      const { out, error } = await decryptFails(key, altered);
      expect(error.code, where).toBe('corrupt-segment');
      expect(error.message).toBe('segment 1 failed authentication: the stored data was altered or damaged');
      expect(out.equals(plain.subarray(0, 1024))).toBe(true);
    }
    // The final bit of segment 0 switched on: its length still fits, the authentication fails.
    const finalFlag = Buffer.from(stored);
    finalFlag[HEADER_BYTES]! ^= 0x80;
    expect((await decryptFails(key, finalFlag)).error.message).toMatch(/^segment 0 failed authentication/);
    // A length field changed: refused before any decryption.
    const length = Buffer.from(stored);
    length[HEADER_BYTES + 3]! ^= 0x01;
    expect((await decryptFails(key, length)).error.message).toMatch(/^segment 0 is corrupt: its length field says 1025 bytes/);
    // Segments swapped.
    const swapped = Buffer.concat([
      stored.subarray(0, HEADER_BYTES),
      stored.subarray(HEADER_BYTES + segment, HEADER_BYTES + 2 * segment),
      stored.subarray(HEADER_BYTES, HEADER_BYTES + segment),
      stored.subarray(HEADER_BYTES + 2 * segment),
    ]);
    expect((await decryptFails(key, swapped)).error.message).toMatch(/^segment 0 failed authentication/);
  });

  it('fails on every single flipped bit anywhere in a small stream, before the damaged segment is released', async () => {
    const plain = randomBytes(50);
    const stored = await encrypt(key, plain, 16); // header + 4 segments (16, 16, 16, 2 bytes)
    const segment = 16 + SEGMENT_OVERHEAD_BYTES;
    for (let offset = 0; offset < stored.length; offset++) {
      for (const bit of [0x01, 0x80]) {
        const altered = Buffer.from(stored);
        altered[offset]! ^= bit;
        const { out } = await decryptFails(key, altered, 9);
        const damagedSegment = offset < HEADER_BYTES ? 0 : Math.floor((offset - HEADER_BYTES) / segment);
        expect(out.length).toBeLessThanOrEqual(damagedSegment * 16);
        expect(out.equals(plain.subarray(0, out.length))).toBe(true);
      }
    }
  });

  it('names header damage precisely', async () => {
    const stored = await encrypt(key, randomBytes(100), 16);
    const magic = Buffer.from(stored);
    magic[0] = 0x1f;
    expect((await decryptFails(key, magic)).error).toMatchObject({ code: 'bad-magic' });
    const version = Buffer.from(stored);
    version[7] = 2;
    expect((await decryptFails(key, version)).error.message).toBe('unsupported snapshot format version 2 (this code reads version 1)');
    const size = Buffer.from(stored);
    size.writeUInt32BE(0, 8);
    expect((await decryptFails(key, size)).error.message).toMatch(/^invalid segment size 0 in the snapshot header/);
    const salt = Buffer.from(stored);
    salt[20]! ^= 0x01;
    expect((await decryptFails(key, salt)).error).toMatchObject({ code: 'wrong-key' });
  });

  it('detects a cut at every position, naming where the stream ends', async () => {
    const stored = await encrypt(key, randomBytes(50), 16);
    for (let cut = 0; cut < stored.length; cut++) {
      const { error } = await decryptFails(key, stored.subarray(0, cut), 11);
      expect(error.code, `cut at ${cut}`).toBe('truncated');
    }
    expect((await decryptFails(key, Buffer.alloc(0))).error.message).toBe('truncated: the stream is empty (no snapshot header)');
    expect((await decryptFails(key, stored.subarray(0, 10))).error.message).toBe('truncated inside the header (10 of 76 bytes)');
    const twoSegments = HEADER_BYTES + 2 * (16 + SEGMENT_OVERHEAD_BYTES);
    expect((await decryptFails(key, stored.subarray(0, twoSegments))).error.message).toBe(
      'truncated: the stream ends after segment 1, which is not the final segment',
    );
    expect((await decryptFails(key, stored.subarray(0, twoSegments + 2))).error.message).toBe(
      'truncated inside the length field of segment 2',
    );
    expect((await decryptFails(key, stored.subarray(0, twoSegments + 10))).error.message).toBe(
      'truncated inside segment 2 (6 of 32 bytes after its length field)',
    );
    // The same at the real size: a 1 MiB-segment stream cut at its first segment boundary.
    const big = await encrypt(key, randomBytes(DEFAULT_SEGMENT_BYTES + 1));
    const cut = await decryptFails(key, big.subarray(0, HEADER_BYTES + DEFAULT_SEGMENT_BYTES + SEGMENT_OVERHEAD_BYTES));
    expect(cut.error.message).toBe('truncated: the stream ends after segment 0, which is not the final segment');
    expect(cut.out.length).toBe(DEFAULT_SEGMENT_BYTES);
  });

  it('refuses bytes appended after the final segment, also another valid stream', async () => {
    const stored = await encrypt(key, randomBytes(40), 16);
    const garbage = await decryptFails(key, Buffer.concat([stored, Buffer.from('x')]));
    expect(garbage.error.code).toBe('trailing-data');
    expect(garbage.error.message).toBe('1 unexpected bytes after the final segment (segment 2)');
    const doubled = await decryptFails(key, Buffer.concat([stored, stored]), 1);
    expect(doubled.error.code).toBe('trailing-data');
    const empty = await encrypt(key, Buffer.alloc(0), 16);
    expect((await decryptFails(key, Buffer.concat([empty, randomBytes(100)]))).error.message).toBe(
      '100 unexpected bytes after the final segment (segment 0)',
    );
  });
});

describe('size arithmetic', () => {
  it('adds the header and one length word and tag per segment, an empty input still having its final segment', () => {
    expect(HEADER_BYTES).toBe(76);
    expect(SEGMENT_OVERHEAD_BYTES).toBe(20);
    expect(encryptedSize(0, 16)).toBe(76 + 20);
    expect(encryptedSize(1, 16)).toBe(76 + 1 + 20);
    expect(encryptedSize(16, 16)).toBe(76 + 16 + 20);
    expect(encryptedSize(17, 16)).toBe(76 + 17 + 2 * 20);
    expect(encryptedSize(3 * DEFAULT_SEGMENT_BYTES + 5)).toBe(76 + 3 * DEFAULT_SEGMENT_BYTES + 5 + 4 * 20);
  });

  it('finds the plaintext size behind every possible stored size, and refuses the impossible ones', () => {
    for (let plain = 0; plain <= 200; plain++) expect(plaintextSize(encryptedSize(plain, 16), 16)).toBe(plain);
    // Between the largest one-segment size and the smallest two-segment one nothing fits.
    expect(() => plaintextSize(encryptedSize(16, 16) + 1, 16)).toThrow(/is not a possible size of a snapshot stored with 16-byte segments/);
    expect(() => plaintextSize(HEADER_BYTES, 16)).toThrow(/is not a possible size/);
    expect(() => plaintextSize(0)).toThrow(/is not a possible size/);
  });
});
