// Consul snapshots into Azure Blob: the segmented AES-256-GCM format on its own (round trips
// across segment boundaries, and a precise error for a wrong key, any flipped byte, any cut and
// appended bytes), then save and restore against a real Consul dev agent (HTTPS, ACLs on with
// default deny) and real Azurite, and the retention choice.
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevConsul } from '../devstack/services/dev-consul.js';
import { Supervisor } from '../devstack/supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import {
  ConsulSnapshotError,
  decryptStream,
  DEFAULT_SEGMENT_BYTES,
  encryptedSize,
  encryptStream,
  HEADER_BYTES,
  pickSnapshotsToDelete,
  plaintextSize,
  restoreSnapshot,
  saveSnapshot,
  SEGMENT_OVERHEAD_BYTES,
  SNAPSHOT_METADATA,
  SnapshotDecryptError,
  type SnapshotEndpoint,
} from './consul-snapshots.js';

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

describe('retention', () => {
  const snap = (id: string, kind: 'MANUAL' | 'AUTOMATIC', day: number) => ({
    id,
    kind,
    requestedAt: new Date(Date.UTC(2026, 0, day)).toISOString(),
  });

  it('picks the oldest automatic snapshots beyond the count, oldest first, and never a manual one', () => {
    const snapshots = [
      snap('a5', 'AUTOMATIC', 5),
      snap('m1', 'MANUAL', 1),
      snap('a1', 'AUTOMATIC', 1),
      snap('a3', 'AUTOMATIC', 3),
      snap('a4', 'AUTOMATIC', 4),
    ];
    expect(pickSnapshotsToDelete(snapshots, 2)).toEqual(['a1', 'a3']);
    expect(pickSnapshotsToDelete(snapshots, 4)).toEqual([]);
    expect(pickSnapshotsToDelete(snapshots, 10)).toEqual([]);
    expect(pickSnapshotsToDelete(snapshots, 0)).toEqual(['a1', 'a3', 'a4', 'a5']);
    expect(pickSnapshotsToDelete([snap('m1', 'MANUAL', 1), snap('m2', 'MANUAL', 2)], 0)).toEqual([]);
    expect(pickSnapshotsToDelete([], 3)).toEqual([]);
  });

  it('compares times, not strings, and breaks ties by id whatever the input order', () => {
    const offsets = [
      { id: 'x', kind: 'AUTOMATIC' as const, requestedAt: '2026-01-02T01:00:00+02:00' }, // 2026-01-01T23:00Z
      { id: 'y', kind: 'AUTOMATIC' as const, requestedAt: '2026-01-01T23:30:00Z' },
    ];
    expect(pickSnapshotsToDelete(offsets, 1)).toEqual(['x']);
    const tied = [snap('b', 'AUTOMATIC', 1), snap('a', 'AUTOMATIC', 1), snap('c', 'AUTOMATIC', 1)];
    expect(pickSnapshotsToDelete(tied, 1)).toEqual(pickSnapshotsToDelete([...tied].reverse(), 1));
  });

  it('refuses a bad count or time', () => {
    expect(() => pickSnapshotsToDelete([], -1)).toThrow(/retention count must be a whole number/);
    expect(() => pickSnapshotsToDelete([], 1.5)).toThrow(/retention count/);
    expect(() => pickSnapshotsToDelete([{ id: 's1', kind: 'AUTOMATIC', requestedAt: 'yesterday' }], 1)).toThrow(
      'snapshot s1 has an invalid requestedAt: "yesterday"',
    );
  });
});

describe('save and restore with real Consul and Azurite', () => {
  const stack = inject('stack');
  const dir = mkdtempSync(join(tmpdir(), 'hcs-consul-snapshots-'));
  const supervisor = new Supervisor({ stateDir: join(dir, 'sup') });
  const management = randomUUID();
  const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
  const container: ContainerClient = service.getContainerClient(`snapshots-${randomUUID()}`);
  const key = randomBytes(32);
  let consul: SnapshotEndpoint;

  /** One Consul HTTP call with raw bytes (KV values are binary). */
  function call(method: string, path: string, body?: Buffer, token = management): Promise<{ status: number; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        new URL(path, consul.url),
        { method, ca: consul.caPem, headers: { 'x-consul-token': token, ...(body ? { 'content-length': String(body.length) } : {}) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
  const kvPut = async (k: string, value: Buffer) => expect((await call('PUT', `/v1/kv/${k}`, value)).status).toBe(200);
  const kvDelete = async (k: string) => expect((await call('DELETE', `/v1/kv/${k}`)).status).toBe(200);
  const kvGet = async (k: string): Promise<Buffer | undefined> => {
    const res = await call('GET', `/v1/kv/${k}?raw`);
    if (res.status === 404) return undefined;
    expect(res.status).toBe(200);
    return res.body;
  };

  beforeAll(async () => {
    consul = await startDevConsul(supervisor, {
      name: 'consul-snapshots-test',
      binary: stack.tools.consul[stack.tools.consulVersions.at(-1)!]!,
      dir: join(dir, 'consul'),
      token: management,
    });
    await container.create();
  });
  afterAll(async () => {
    await container.deleteIfExists();
    await supervisor.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('saves an encrypted snapshot into the blob and restores it over changed data', async () => {
    // About 3 MB of incompressible values, so the snapshot spans several 1 MiB segments.
    const values = new Map<string, Buffer>();
    for (let i = 0; i < 6; i++) values.set(`app/big-${i}`, randomBytes(500 * 1024));
    values.set('app/config', Buffer.from('{"replicas":3}'));
    for (const [k, v] of values) await kvPut(k, v);

    const progress: number[] = [];
    const saved = await saveSnapshot({ consul, container, blobName: 'snapshots/first.snap', key, onProgress: (b) => progress.push(b) });
    expect(saved.sizeBytes).toBeGreaterThan(2 * DEFAULT_SEGMENT_BYTES); // three segments or more
    expect(saved.storedBytes).toBe(encryptedSize(saved.sizeBytes));
    expect(saved.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(saved.consulIndex).toMatch(/^\d+$/);
    expect(progress.at(-1)).toBe(saved.sizeBytes);

    const blob = container.getBlockBlobClient('snapshots/first.snap');
    const props = await blob.getProperties();
    expect(props.contentLength).toBe(saved.storedBytes);
    expect(props.metadata).toMatchObject({
      [SNAPSHOT_METADATA.plaintextBytes]: String(saved.sizeBytes),
      [SNAPSHOT_METADATA.plaintextSha256]: saved.sha256,
      [SNAPSHOT_METADATA.consulIndex]: saved.consulIndex,
    });
    // At rest: our header, not the archive's gzip magic, and nothing of the values.
    const stored = await blob.downloadToBuffer();
    expect(stored.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect(stored.subarray(0, 7).toString('latin1')).toBe('HCSSNAP');
    expect(createHash('sha256').update(stored).digest('hex')).not.toBe(saved.sha256);
    expect(stored.includes(values.get('app/big-0')!.subarray(0, 64))).toBe(false);
    // With the key, it is Consul's archive (gzip) with the recorded hash.
    const plain = (await through(decryptStream(key), stored)).out;
    expect(plain.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(true);
    expect(createHash('sha256').update(plain).digest('hex')).toBe(saved.sha256);

    // Change, delete and add, then restore: exactly the saved state is back.
    await kvPut('app/config', Buffer.from('{"replicas":1}'));
    await kvDelete('app/big-3');
    await kvPut('app/added-later', Buffer.from('x'));
    const restoreProgress: number[] = [];
    const restored = await restoreSnapshot({
      consul,
      container,
      blobName: 'snapshots/first.snap',
      key,
      onProgress: (b) => restoreProgress.push(b),
    });
    expect(restored).toEqual({ sizeBytes: saved.sizeBytes });
    expect(restoreProgress.at(-1)).toBe(saved.sizeBytes);
    for (const [k, v] of values) expect((await kvGet(k))?.equals(v), k).toBe(true);
    expect(await kvGet('app/added-later')).toBeUndefined();
  });

  it('gives a precise 403 for a token without the right, with no token in the message, and writes no blob', async () => {
    const foreign = randomUUID();
    const err = await saveSnapshot({ consul: { ...consul, token: foreign }, container, blobName: 'snapshots/denied.snap', key }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConsulSnapshotError);
    expect((err as ConsulSnapshotError).status).toBe(403);
    expect((err as Error).message).toMatch(
      new RegExp(`^snapshot save refused: Consul at ${consul.url} answered 403 Forbidden: ACL not found`),
    );
    expect((err as Error).message).not.toContain(foreign);
    expect(await container.getBlobClient('snapshots/denied.snap').exists()).toBe(false);

    // A real token with a policy that lacks operator rights is refused the same way, also for a restore.
    const policy = await call(
      'PUT',
      '/v1/acl/policy',
      Buffer.from(JSON.stringify({ Name: `kv-only-${randomUUID()}`, Rules: 'key_prefix "" { policy = "write" }' })),
    );
    const created = await call(
      'PUT',
      '/v1/acl/token',
      Buffer.from(JSON.stringify({ Policies: [{ ID: JSON.parse(policy.body.toString()).ID }] })),
    );
    const limited = JSON.parse(created.body.toString()).SecretID as string;
    const denied: Error = await saveSnapshot({
      consul: { ...consul, token: limited },
      container,
      blobName: 'snapshots/denied.snap',
      key,
    }).then(
      () => new Error('saved with a token lacking operator rights'),
      (e: unknown) => e as Error,
    );
    expect(denied.message).toMatch(/answered 403 Forbidden: Permission denied/);
    expect(denied.message).not.toContain(limited);
    expect(await container.getBlobClient('snapshots/denied.snap').exists()).toBe(false);
    await saveSnapshot({ consul, container, blobName: 'snapshots/for-denied-restore.snap', key });
    await expect(
      restoreSnapshot({ consul: { ...consul, token: limited }, container, blobName: 'snapshots/for-denied-restore.snap', key }),
    ).rejects.toThrow(/^snapshot restore refused: .* answered 403 Forbidden: Permission denied/);
  });

  it('refuses Consul behind a certificate the given CA did not sign', async () => {
    const other = ensureDevCertificate(join(dir, 'other-ca'));
    await expect(
      saveSnapshot({ consul: { ...consul, caPem: other.caCertPem }, container, blobName: 'snapshots/untrusted.snap', key }),
    ).rejects.toThrow(/^snapshot save: could not reach Consul at https:\/\/127\.0\.0\.1:\d+: .*certificate/);
    expect(await container.getBlobClient('snapshots/untrusted.snap').exists()).toBe(false);
  });

  it('names the side that failed mid-stream and commits no blob', async () => {
    // The upload side: a container that does not exist.
    const missing = service.getContainerClient(`snapshots-missing-${randomUUID()}`);
    await expect(saveSnapshot({ consul, container: missing, blobName: 'x.snap', key })).rejects.toThrow(
      /^snapshot save: uploading to blob x\.snap failed: .*container does not exist/,
    );
    // The Consul side: an HTTP server that starts a snapshot and drops the connection.
    const dropping = createServer((_req, res) => {
      res.writeHead(200, { 'x-consul-index': '7' });
      res.write(randomBytes(300 * 1024), () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => dropping.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(dropping.address() as AddressInfo).port}`;
    try {
      await expect(
        saveSnapshot({ consul: { url, token: management }, container, blobName: 'snapshots/dropped.snap', key }),
      ).rejects.toThrow(/^snapshot save: reading the snapshot from Consul failed after \d+ bytes: /);
    } finally {
      dropping.close();
    }
    expect(await container.getBlobClient('snapshots/dropped.snap').exists()).toBe(false);
  });

  describe('refuses a restore before Consul has the whole snapshot, leaving its data alone', () => {
    const blobName = 'snapshots/guarded.snap';
    beforeAll(async () => {
      await kvPut('guard/state', Buffer.from('at save'));
      await saveSnapshot({ consul, container, blobName, key });
      await kvPut('guard/state', Buffer.from('after save'));
    });
    const untouched = async () => expect((await kvGet('guard/state'))?.toString()).toBe('after save');

    it('when the sha256 recorded at save does not match', async () => {
      const blob = container.getBlobClient(blobName);
      const { metadata } = await blob.getProperties();
      await blob.setMetadata({ ...metadata, [SNAPSHOT_METADATA.plaintextSha256]: '0'.repeat(64) });
      await expect(restoreSnapshot({ consul, container, blobName, key })).rejects.toThrow(
        new RegExp(
          `^snapshot restore of ${blobName} aborted before Consul received the whole snapshot: sha256 mismatch: the decrypted snapshot hashes to [0-9a-f]{64}, but 0{64} was recorded at save$`,
        ),
      );
      await blob.setMetadata(metadata);
      await untouched();
    });

    it('when the blob was altered', async () => {
      const blob = container.getBlockBlobClient(blobName);
      const { metadata } = await blob.getProperties();
      const stored = await blob.downloadToBuffer();
      const altered = Buffer.from(stored);
      altered[stored.length - 40]! ^= 0x01; // inside the last segment
      await container.getBlockBlobClient('snapshots/altered.snap').uploadData(altered, { metadata });
      await expect(restoreSnapshot({ consul, container, blobName: 'snapshots/altered.snap', key })).rejects.toThrow(
        /aborted before Consul received the whole snapshot: segment \d+ failed authentication: the stored data was altered or damaged$/,
      );
      await untouched();
    });

    it('with the wrong key', async () => {
      await expect(restoreSnapshot({ consul, container, blobName, key: randomBytes(32) })).rejects.toThrow(
        /aborted before Consul received the whole snapshot: wrong key: /,
      );
      await untouched();
    });

    it('when the blob is missing or its save never recorded size and hash', async () => {
      await expect(restoreSnapshot({ consul, container, blobName: 'snapshots/none.snap', key })).rejects.toThrow(
        `snapshot restore: blob snapshots/none.snap does not exist in container ${container.containerName}`,
      );
      const stored = await container.getBlockBlobClient(blobName).downloadToBuffer();
      await container
        .getBlockBlobClient('snapshots/half.snap')
        .uploadData(stored, { metadata: { hcssnapshotformat: 'hcs-aes256gcm-segmented-v1' } });
      await expect(restoreSnapshot({ consul, container, blobName: 'snapshots/half.snap', key })).rejects.toThrow(
        'snapshot restore: blob snapshots/half.snap has no plaintext size and sha256 in its metadata: its save did not complete',
      );
      await untouched();
    });
  });
});
