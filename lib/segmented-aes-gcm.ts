// The segmented AES-256-GCM stream format the control plane stores Consul snapshots in: an
// encrypting and a decrypting Transform (memory: one segment), and the size arithmetic. No I/O
// beyond the streams it is given.
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
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Identifies the format (stored in a blob's metadata beside the bytes). */
export const SEGMENTED_FORMAT = 'hcs-aes256gcm-segmented-v1';
export const DEFAULT_SEGMENT_BYTES = 1024 * 1024;
/** Upper bound for a segment size read from a header: bounds the decryptor's memory. */
export const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
export const HEADER_BYTES = 76;
/** Per segment: the length word and the GCM tag. */
export const SEGMENT_OVERHEAD_BYTES = 4 + 16;
/** The key's length in bytes (AES-256). */
export const KEY_BYTES = 32;

const MAGIC = Buffer.from('HCSSNAP', 'latin1');
const VERSION = 1;
const FINAL_BIT = 0x8000_0000;
const TAG_BYTES = 16;
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

/** Throws unless `key` is a 32-byte Buffer (the message never shows the key). */
export function checkKey(key: Buffer): void {
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
