// Consul snapshots into Azure Blob: save and restore against a real Consul dev agent (HTTPS, ACLs
// on with default deny) and real Azurite. The stream format on its own is tested in
// lib/segmented-aes-gcm.test.ts, the retention rules in domain/snapshot-retention.test.ts.
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startDevConsul } from '../devstack/services/dev-consul.js';
import { Supervisor } from '../devstack/supervisor.js';
import { ensureDevCertificate } from '../lib/dev-tls.js';
import { decryptStream, DEFAULT_SEGMENT_BYTES, encryptedSize } from '../lib/segmented-aes-gcm.js';
import { ConsulSnapshotError } from './consul-admin.js';
import { restoreSnapshot, saveSnapshot, SNAPSHOT_METADATA, type SnapshotEndpoint, UPLOAD_BLOCK_BYTES } from './consul-snapshots.js';

/** The plaintext behind a stored stream (the test's stream is small enough to hold). */
async function decrypted(key: Buffer, stored: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const chunk of Readable.from([stored]).pipe(decryptStream(key))) out.push(chunk as Buffer);
  return Buffer.concat(out);
}

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
    const plain = await decrypted(key, stored);
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
    // The Consul side: an HTTP server that sends two blocks' worth of a snapshot, waits until they
    // are staged, and drops the connection.
    const dropping = createServer((_req, res) => {
      res.writeHead(200, { 'x-consul-index': '7' });
      res.write(randomBytes(2 * UPLOAD_BLOCK_BYTES + 1000), () => setTimeout(() => res.socket?.destroy(), 1000));
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
    const dropped = container.getBlockBlobClient('snapshots/dropped.snap');
    expect((await dropped.getBlockList('uncommitted')).uncommittedBlocks?.length).toBeGreaterThan(0);
    expect(await dropped.exists()).toBe(false);
  });

  it('stops a save when its signal is aborted (the activity was cancelled) and commits no blob', async () => {
    // A Consul that sends the start of a snapshot and then nothing more.
    const stalling = createServer((_req, res) => {
      res.writeHead(200);
      res.write(randomBytes(300 * 1024));
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
    const cancel = new AbortController();
    try {
      await expect(
        saveSnapshot({
          consul: { url, token: management },
          container,
          blobName: 'snapshots/cancelled.snap',
          key,
          signal: cancel.signal,
          onProgress: () => cancel.abort(),
        }),
      ).rejects.toThrow(/^snapshot save: cancelled after \d+ bytes read from Consul$/);
    } finally {
      stalling.closeAllConnections();
      stalling.close();
    }
    expect(await container.getBlobClient('snapshots/cancelled.snap').exists()).toBe(false);
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

    it('when its signal is aborted (the activity was cancelled)', async () => {
      const cancel = new AbortController();
      await expect(
        restoreSnapshot({ consul, container, blobName, key, signal: cancel.signal, onProgress: () => cancel.abort() }),
      ).rejects.toThrow(`snapshot restore of ${blobName} aborted before Consul received the whole snapshot: the restore was cancelled`);
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
