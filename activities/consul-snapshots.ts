// Consul snapshots streamed into the cluster's Blob container, encrypted at rest with a key of
// ours, and streamed back into Consul for a restore. Nothing here holds a whole snapshot in
// memory: Consul's answer flows through a SHA-256 and the cipher into a block upload, and a
// restore flows from the blob download through the decipher into Consul's PUT.
//
// Stored format, version 1 (integers big-endian):
//   header  = "HCSSNAP" 0x01 | segment size (u32) | salt (32 bytes) | key check (32 bytes)   76 bytes
//   segment = length word (u32: top bit = final, the rest = plaintext length) | ciphertext | GCM tag (16)
// Every segment but the last holds exactly `segment size` plaintext bytes; the last one (empty
// for an empty input) has the final bit and nothing may follow it. HKDF-SHA256(key, salt) gives
// each stream its own AES-256 key and a key check, so a wrong key is named as such; segment i
// uses the nonce 0^32 | i (u64), unique under that per-stream key, and authenticates
// header | i (u64) | length word as AAD. Reordered or dropped segments, a cut at a segment
// boundary, a flipped final bit or an edited header all fail, and no plaintext of a segment is
// released before its tag has been checked.
import { type ContainerClient, RestError } from '@azure/storage-blob';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface SnapshotEndpoint {
  /** https://host:port (production) or http://host:port */
  url: string;
  /** PEM CA bundle to trust for an https url; the process's default trust otherwise. */
  caPem?: string;
  /** A Consul ACL token allowed to save and restore snapshots (operator/management). */
  token: string;
}

/** Identifies the stored format in the blob's metadata. */
export const SNAPSHOT_FORMAT = 'hcs-aes256gcm-segmented-v1';
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024;
/** Upper bound for a segment size read from a header: bounds the decryptor's memory. */
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
export const HEADER_BYTES = 76;
/** Per segment: the length word and the GCM tag. */
export const SEGMENT_OVERHEAD_BYTES = 4 + 16;
/** Block size and parallel blocks of the upload: its memory is about their product. */
export const UPLOAD_BLOCK_BYTES = 4 * 1024 * 1024;
export const UPLOAD_CONCURRENCY = 4;
/** A Consul connection with no traffic for this long is given up (snapshotting takes a while). */
export const CONSUL_IDLE_TIMEOUT_MS = 120_000;

/** Blob metadata keys (Azure folds them to lower case). */
export const SNAPSHOT_METADATA = {
  format: 'hcssnapshotformat',
  segmentBytes: 'hcssegmentbytes',
  plaintextBytes: 'hcsplaintextbytes',
  plaintextSha256: 'hcsplaintextsha256',
  consulIndex: 'hcsconsulindex',
} as const;

const MAGIC = Buffer.from('HCSSNAP', 'latin1');
const VERSION = 1;
const FINAL_BIT = 0x8000_0000;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const HKDF_INFO = Buffer.from('hcs consul snapshot v1 stream key', 'latin1');

export type SnapshotDecryptErrorCode =
  'bad-magic' | 'unsupported-version' | 'bad-header' | 'wrong-key' | 'corrupt-segment' | 'truncated' | 'trailing-data';

/** The stored bytes are not a snapshot this key can open; `code` says why. */
export class SnapshotDecryptError extends Error {
  override name = 'SnapshotDecryptError';
  constructor(
    readonly code: SnapshotDecryptErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Consul answered a snapshot request with an error status. */
export class ConsulSnapshotError extends Error {
  override name = 'ConsulSnapshotError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// The stream format

/** Stored size of `plaintextBytes` bytes in the segmented format. */
export function encryptedSize(plaintextBytes: number, segmentBytes = DEFAULT_SEGMENT_BYTES): number {
  const segments = Math.max(1, Math.ceil(plaintextBytes / segmentBytes));
  return HEADER_BYTES + plaintextBytes + segments * SEGMENT_OVERHEAD_BYTES;
}

/** Plaintext size behind `storedBytes` stored bytes; throws when no plaintext size gives that. */
export function plaintextSize(storedBytes: number, segmentBytes = DEFAULT_SEGMENT_BYTES): number {
  const body = storedBytes - HEADER_BYTES;
  const segments = Math.max(1, Math.ceil(body / (segmentBytes + SEGMENT_OVERHEAD_BYTES)));
  const plain = body - segments * SEGMENT_OVERHEAD_BYTES;
  if (plain < 0 || encryptedSize(plain, segmentBytes) !== storedBytes) {
    throw new Error(`${storedBytes} bytes is not a possible size of a snapshot stored with ${segmentBytes}-byte segments`);
  }
  return plain;
}

function checkKey(key: Buffer): void {
  if (!Buffer.isBuffer(key) || key.length !== KEY_BYTES) {
    throw new TypeError(
      `the snapshot key must be a ${KEY_BYTES}-byte Buffer (got ${Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key})`,
    );
  }
}

function checkSegmentBytes(segmentBytes: number): void {
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) {
    throw new RangeError(`segment size must be an integer from 1 to ${MAX_SEGMENT_BYTES} bytes (got ${segmentBytes})`);
  }
}

function streamKeys(key: Buffer, salt: Buffer): { aesKey: Buffer; keyCheck: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', key, salt, HKDF_INFO, 2 * KEY_BYTES));
  return { aesKey: okm.subarray(0, KEY_BYTES), keyCheck: okm.subarray(KEY_BYTES) };
}

function segmentNonce(index: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(BigInt(index), 4);
  return nonce;
}

function segmentAad(header: Buffer, index: number, lengthWord: Buffer): Buffer {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(index));
  return Buffer.concat([header, counter, lengthWord]);
}

class EncryptTransform extends Transform {
  readonly #aesKey: Buffer;
  readonly #header: Buffer;
  readonly #segmentBytes: number;
  readonly #plain: Buffer;
  #fill = 0;
  #index = 0;
  #headerSent = false;

  constructor(key: Buffer, segmentBytes: number) {
    super();
    checkKey(key);
    checkSegmentBytes(segmentBytes);
    const salt = randomBytes(32);
    const { aesKey, keyCheck } = streamKeys(key, salt);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    header.writeUInt8(VERSION, 7);
    header.writeUInt32BE(segmentBytes, 8);
    salt.copy(header, 12);
    keyCheck.copy(header, 44);
    this.#aesKey = aesKey;
    this.#header = header;
    this.#segmentBytes = segmentBytes;
    this.#plain = Buffer.alloc(segmentBytes);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#sendHeader();
    let offset = 0;
    while (offset < chunk.length) {
      // A full segment is sealed only once more data follows: then it is certainly not the last.
      if (this.#fill === this.#segmentBytes) this.#seal(false);
      const n = Math.min(this.#segmentBytes - this.#fill, chunk.length - offset);
      chunk.copy(this.#plain, this.#fill, offset, offset + n);
      this.#fill += n;
      offset += n;
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#sendHeader();
    this.#seal(true);
    callback();
  }

  #sendHeader(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(this.#header);
  }

  #seal(final: boolean): void {
    const lengthWord = Buffer.alloc(4);
    lengthWord.writeUInt32BE((final ? FINAL_BIT : 0) + this.#fill);
    const cipher = createCipheriv('aes-256-gcm', this.#aesKey, segmentNonce(this.#index), { authTagLength: TAG_BYTES });
    cipher.setAAD(segmentAad(this.#header, this.#index, lengthWord));
    const ciphertext = cipher.update(this.#plain.subarray(0, this.#fill));
    cipher.final();
    // Three pushes rather than one concatenation: no second copy of the segment.
    this.push(lengthWord);
    this.push(ciphertext);
    this.push(cipher.getAuthTag());
    this.#index++;
    this.#fill = 0;
  }
}

class DecryptTransform extends Transform {
  readonly #key: Buffer;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #header: Buffer | undefined;
  #aesKey: Buffer | undefined;
  #segmentBytes = 0;
  #index = 0;
  /** The current segment's length word, once read. */
  #word: { raw: Buffer; final: boolean; length: number } | undefined;
  #done = false;

  constructor(key: Buffer) {
    super();
    checkKey(key);
    this.#key = key;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (this.#done && chunk.length > 0) throw this.#trailing(chunk.length);
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      this.#drain();
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    callback(this.#done ? null : this.#truncation());
  }

  #drain(): void {
    for (;;) {
      if (this.#done) {
        if (this.#pendingBytes > 0) throw this.#trailing(this.#pendingBytes);
        return;
      }
      if (!this.#header) {
        const header = this.#take(HEADER_BYTES);
        if (!header) return;
        this.#readHeader(header);
        continue;
      }
      if (!this.#word) {
        const raw = this.#take(4);
        if (!raw) return;
        this.#word = this.#readLengthWord(raw);
        continue;
      }
      const body = this.#take(this.#word.length + TAG_BYTES);
      if (!body) return;
      this.#open(body, this.#word);
    }
  }

  /** The next n pending bytes, or undefined while fewer have arrived. */
  #take(n: number): Buffer | undefined {
    if (this.#pendingBytes < n) return undefined;
    const first = this.#pending[0]!;
    if (first.length >= n) {
      // The common case: no copy.
      if (first.length > n) this.#pending[0] = first.subarray(n);
      else this.#pending.shift();
      this.#pendingBytes -= n;
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = all.length > n ? [all.subarray(n)] : [];
    this.#pendingBytes -= n;
    return all.subarray(0, n);
  }

  #readHeader(header: Buffer): void {
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new SnapshotDecryptError(
        'bad-magic',
        `not an encrypted Consul snapshot: the stream does not start with "${MAGIC.toString('latin1')}"`,
      );
    }
    const version = header.readUInt8(7);
    if (version !== VERSION) {
      throw new SnapshotDecryptError(
        'unsupported-version',
        `unsupported snapshot format version ${version} (this code reads version ${VERSION})`,
      );
    }
    const segmentBytes = header.readUInt32BE(8);
    if (segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) {
      throw new SnapshotDecryptError(
        'bad-header',
        `invalid segment size ${segmentBytes} in the snapshot header (1 to ${MAX_SEGMENT_BYTES})`,
      );
    }
    const { aesKey, keyCheck } = streamKeys(this.#key, header.subarray(12, 44));
    if (!timingSafeEqual(keyCheck, header.subarray(44, HEADER_BYTES))) {
      throw new SnapshotDecryptError(
        'wrong-key',
        'wrong key: the key check in the snapshot header does not match this key (or the header was altered)',
      );
    }
    this.#header = Buffer.from(header); // a copy: the AAD of every segment
    this.#aesKey = aesKey;
    this.#segmentBytes = segmentBytes;
  }

  #readLengthWord(raw: Buffer): { raw: Buffer; final: boolean; length: number } {
    const word = raw.readUInt32BE(0);
    const final = word >= FINAL_BIT;
    const length = final ? word - FINAL_BIT : word;
    if (length > this.#segmentBytes || (!final && length !== this.#segmentBytes)) {
      throw new SnapshotDecryptError(
        'corrupt-segment',
        `segment ${this.#index} is corrupt: its length field says ${length} bytes${final ? ' (final)' : ''}, but segments hold ${this.#segmentBytes} bytes and only the final one may hold fewer`,
      );
    }
    return { raw: Buffer.from(raw), final, length };
  }

  #open(body: Buffer, word: { raw: Buffer; final: boolean; length: number }): void {
    const decipher = createDecipheriv('aes-256-gcm', this.#aesKey!, segmentNonce(this.#index), { authTagLength: TAG_BYTES });
    decipher.setAAD(segmentAad(this.#header!, this.#index, word.raw));
    decipher.setAuthTag(body.subarray(word.length));
    const plain = decipher.update(body.subarray(0, word.length));
    try {
      decipher.final();
    } catch {
      throw new SnapshotDecryptError(
        'corrupt-segment',
        `segment ${this.#index} failed authentication: the stored data was altered or damaged`,
      );
    }
    if (plain.length > 0) this.push(plain);
    this.#index++;
    this.#word = undefined;
    this.#done = word.final;
  }

  #trailing(bytes: number): SnapshotDecryptError {
    return new SnapshotDecryptError('trailing-data', `${bytes} unexpected bytes after the final segment (segment ${this.#index - 1})`);
  }

  #truncation(): SnapshotDecryptError {
    if (!this.#header) {
      return new SnapshotDecryptError(
        'truncated',
        this.#pendingBytes === 0
          ? 'truncated: the stream is empty (no snapshot header)'
          : `truncated inside the header (${this.#pendingBytes} of ${HEADER_BYTES} bytes)`,
      );
    }
    if (!this.#word) {
      return new SnapshotDecryptError(
        'truncated',
        this.#pendingBytes === 0
          ? `truncated: the stream ends after segment ${this.#index - 1}, which is not the final segment`
          : `truncated inside the length field of segment ${this.#index}`,
      );
    }
    return new SnapshotDecryptError(
      'truncated',
      `truncated inside segment ${this.#index} (${this.#pendingBytes} of ${this.#word.length + TAG_BYTES} bytes after its length field)`,
    );
  }
}

/** Plaintext in, the segmented AES-256-GCM format out; memory is one segment. */
export function encryptStream(key: Buffer, options: { segmentBytes?: number } = {}): Transform {
  return new EncryptTransform(key, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES);
}

/**
 * The segmented format in, plaintext out. Fails with a SnapshotDecryptError on a wrong key, any
 * altered byte, a cut anywhere, or bytes after the final segment.
 */
export function decryptStream(key: Buffer): Transform {
  return new DecryptTransform(key);
}

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

// ---------------------------------------------------------------------------------------------
// Consul's snapshot endpoint

function consulRequest(endpoint: SnapshotEndpoint, method: 'GET' | 'PUT', headers: Record<string, string> = {}): ClientRequest {
  const url = new URL('/v1/snapshot', endpoint.url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`Consul URL must be http(s): ${endpoint.url}`);
  const make = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = make(url, {
    method,
    headers: { 'x-consul-token': endpoint.token, ...headers },
    // The cluster's bundle is its intermediate CA alone: a trust anchor as it is.
    ...(url.protocol === 'https:' && endpoint.caPem ? { ca: endpoint.caPem, allowPartialTrustChain: true } : {}),
    timeout: CONSUL_IDLE_TIMEOUT_MS,
  });
  req.on('timeout', () => req.destroy(new Error(`${method} ${url.href}: no data from Consul for ${CONSUL_IDLE_TIMEOUT_MS} ms`)));
  return req;
}

function responseOf(req: ClientRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
}

/** Consul's own words for an error status: the start of its body, never the token. */
async function consulError(res: IncomingMessage, endpoint: SnapshotEndpoint, what: string): Promise<ConsulSnapshotError> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (size < 4096) chunks.push(chunk);
      size += chunk.length;
    }
  } catch {
    /* the status alone still says what happened */
  }
  let message = Buffer.concat(chunks).toString('utf8').slice(0, 1000).trim() || '(no message)';
  if (endpoint.token) message = message.split(endpoint.token).join('[token]');
  const status = res.statusCode ?? 0;
  return new ConsulSnapshotError(
    status,
    `${what}: Consul at ${endpoint.url} answered ${status} ${res.statusMessage ?? ''}`.trimEnd() + `: ${message}`,
  );
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

// ---------------------------------------------------------------------------------------------
// Save and restore

export interface SaveSnapshotInput {
  consul: SnapshotEndpoint;
  container: ContainerClient;
  blobName: string;
  /** 32-byte key; the caller keeps it (never stored beside the blob). */
  key: Buffer;
  /** Called with the plaintext bytes read from Consul so far (for heartbeats). */
  onProgress?: (bytes: number) => void;
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
 * Streams GET /v1/snapshot through a SHA-256 and the cipher into a block blob (bounded buffers),
 * then records the plaintext size and hash as the blob's metadata. A blob is written only when
 * Consul answered 200; blocks are committed only when the whole snapshot has arrived.
 */
export async function saveSnapshot(a: SaveSnapshotInput): Promise<SaveSnapshotResult> {
  checkKey(a.key);
  const req = consulRequest(a.consul, 'GET');
  const responding = responseOf(req);
  req.end();
  const res = await responding.catch((err: unknown) => {
    throw new Error(`snapshot save: could not reach Consul at ${a.consul.url}: ${describe(err)}`);
  });
  if (res.statusCode !== 200) throw await consulError(res, a.consul, 'snapshot save refused');
  const consulIndexHeader = res.headers['x-consul-index'];
  const consulIndex = typeof consulIndexHeader === 'string' ? consulIndexHeader : undefined;

  const blob = a.container.getBlockBlobClient(a.blobName);
  const digest = new DigestTap(a.onProgress);
  const encrypted = encryptStream(a.key);
  const abort = new AbortController();
  let sourceFailed = false;
  let encryptedErrored = false;
  encrypted.once('error', () => (encryptedErrored = true));
  let uploadError: unknown;

  const piping = pipeline(res, digest, encrypted).catch((err: unknown) => {
    sourceFailed = true;
    abort.abort();
    throw err;
  });
  const uploading = blob
    .uploadStream(encrypted, UPLOAD_BLOCK_BYTES, UPLOAD_CONCURRENCY, {
      abortSignal: abort.signal,
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      metadata: { [SNAPSHOT_METADATA.format]: SNAPSHOT_FORMAT, [SNAPSHOT_METADATA.segmentBytes]: String(DEFAULT_SEGMENT_BYTES) },
    })
    .catch((err: unknown) => {
      // The upload's own failure (not one passed on from the source): stop reading Consul.
      if (!sourceFailed && !encryptedErrored) uploadError = err;
      encrypted.destroy(err instanceof Error ? err : new Error(String(err)));
      throw err;
    });
  const [piped, uploaded] = await Promise.allSettled([piping, uploading]);
  if (uploadError !== undefined) throw new Error(`snapshot save: uploading to blob ${a.blobName} failed: ${describe(uploadError)}`);
  if (piped.status === 'rejected') {
    throw new Error(`snapshot save: reading the snapshot from Consul failed after ${digest.bytes} bytes: ${describe(piped.reason)}`);
  }
  if (uploaded.status === 'rejected')
    throw new Error(`snapshot save: uploading to blob ${a.blobName} failed: ${describe(uploaded.reason)}`);

  const sizeBytes = digest.bytes;
  const sha256 = digest.hash.digest('hex');
  const storedBytes = encryptedSize(sizeBytes);
  await blob.setMetadata(
    {
      [SNAPSHOT_METADATA.format]: SNAPSHOT_FORMAT,
      [SNAPSHOT_METADATA.segmentBytes]: String(DEFAULT_SEGMENT_BYTES),
      [SNAPSHOT_METADATA.plaintextBytes]: String(sizeBytes),
      [SNAPSHOT_METADATA.plaintextSha256]: sha256,
      ...(consulIndex ? { [SNAPSHOT_METADATA.consulIndex]: consulIndex } : {}),
    },
    // Only on the blob this upload wrote, never on one a concurrent writer replaced it with.
    { conditions: { ifMatch: uploaded.value.etag } },
  );
  const props = await blob.getProperties();
  if (props.contentLength !== storedBytes) {
    throw new Error(`snapshot save: blob ${a.blobName} holds ${props.contentLength} bytes, but ${storedBytes} were written`);
  }
  return { sizeBytes, storedBytes, sha256, ...(consulIndex ? { consulIndex } : {}) };
}

export interface RestoreSnapshotInput {
  consul: SnapshotEndpoint;
  container: ContainerClient;
  blobName: string;
  key: Buffer;
  /** Called with the plaintext bytes sent to Consul so far (for heartbeats). */
  onProgress?: (bytes: number) => void;
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
  const stored = await storedSnapshot(a.container, a.blobName);
  const download = await a.container.getBlobClient(a.blobName).download(0, undefined, {
    conditions: { ifMatch: stored.etag }, // the very version whose metadata we read
    maxRetryRequests: 5,
  });
  const body = download.readableStreamBody as Readable | undefined;
  if (!body) throw new Error(`snapshot restore: blob ${a.blobName} came without a body`);

  const req = consulRequest(a.consul, 'PUT', { 'content-type': 'application/octet-stream', 'content-length': String(stored.sizeBytes) });
  const responding = responseOf(req);
  const verify = new VerifyTap({ bytes: stored.sizeBytes, sha256: stored.sha256 }, a.onProgress);
  const [piped, answered] = await Promise.allSettled([pipeline(body, decryptStream(a.key), verify, req), responding]);
  if (answered.status === 'fulfilled' && answered.value.statusCode !== 200) {
    throw await consulError(answered.value, a.consul, 'snapshot restore refused');
  }
  if (piped.status === 'rejected') {
    body.destroy();
    throw new Error(`snapshot restore of ${a.blobName} aborted before Consul received the whole snapshot: ${describe(piped.reason)}`);
  }
  if (answered.status === 'rejected') {
    throw new Error(`snapshot restore of ${a.blobName}: Consul at ${a.consul.url} gave no answer: ${describe(answered.reason)}`);
  }
  answered.value.resume();
  return { sizeBytes: stored.sizeBytes };
}

// ---------------------------------------------------------------------------------------------
// Retention

export interface SnapshotRecord {
  id: string;
  kind: 'MANUAL' | 'AUTOMATIC' | 'UPGRADE';
  /** ISO 8601 time the snapshot was requested. */
  requestedAt: string;
}

/**
 * Ids of the automatic snapshots beyond the newest `retentionCount` ones, oldest first. Manual
 * snapshots are never picked (they go only when an operator deletes them), nor upgrade ones
 * (they go by age: domain/snapshot-retention.ts).
 */
export function pickSnapshotsToDelete(snapshots: SnapshotRecord[], retentionCount: number): string[] {
  if (!Number.isInteger(retentionCount) || retentionCount < 0) {
    throw new RangeError(`retention count must be a whole number of snapshots, 0 or more (got ${retentionCount})`);
  }
  const automatic = snapshots
    .filter((s) => s.kind === 'AUTOMATIC')
    .map((s) => {
      const at = Date.parse(s.requestedAt);
      if (Number.isNaN(at)) throw new RangeError(`snapshot ${s.id} has an invalid requestedAt: ${JSON.stringify(s.requestedAt)}`);
      return { id: s.id, at };
    })
    // Newest first; the id breaks ties so the choice never depends on input order.
    .sort((x, y) => y.at - x.at || (x.id < y.id ? 1 : x.id > y.id ? -1 : 0));
  return automatic
    .slice(retentionCount)
    .reverse()
    .map((s) => s.id);
}
