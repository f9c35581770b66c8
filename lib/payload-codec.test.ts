import type { Payload } from '@temporalio/common';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, parsePayloadKeys } from './payload-codec.js';

const te = new TextEncoder();
const payload = (json: unknown): Payload => ({ metadata: { encoding: te.encode('json/plain') }, data: te.encode(JSON.stringify(json)) });

describe('AesGcmPayloadCodec', () => {
  const k1 = { id: 'k1', key: randomBytes(32) };
  const k2 = { id: 'k2', key: randomBytes(32) };

  it('round-trips payloads and leaves no plaintext in the encoded form', async () => {
    const codec = new AesGcmPayloadCodec([k1]);
    const secret = { gossipKey: randomBytes(32).toString('base64') };
    const [enc] = await codec.encode([payload(secret)]);
    expect(new TextDecoder().decode(enc!.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(enc!.data!).toString('latin1')).not.toContain(secret.gossipKey);
    const [dec] = await codec.decode([enc!]);
    expect(JSON.parse(new TextDecoder().decode(dec!.data!))).toEqual(secret);
    expect(new TextDecoder().decode(dec!.metadata!.encoding)).toBe('json/plain');
  });

  it('decrypts with older keys after rotation and refuses unknown keys and tampering', async () => {
    const [old] = await new AesGcmPayloadCodec([k1]).encode([payload('x')]);
    const rotated = new AesGcmPayloadCodec([k2, k1]);
    expect(new TextDecoder().decode((await rotated.decode([old!]))[0]!.data!)).toBe('"x"');
    const [fresh] = await rotated.encode([payload('y')]);
    expect(new TextDecoder().decode(fresh!.metadata!['encryption-key-id'])).toBe('k2');
    await expect(new AesGcmPayloadCodec([k1]).decode([fresh!])).rejects.toThrow(/key "k2", which is not configured/);
    const tampered = { ...fresh!, data: Uint8Array.from(fresh!.data!, (b, i) => (i === 20 ? b ^ 1 : b)) };
    await expect(rotated.decode([tampered])).rejects.toThrow();
  });

  it('parses key lists and refuses malformed ones', () => {
    const keys = parsePayloadKeys(`a:${randomBytes(32).toString('base64')},b:${randomBytes(32).toString('base64')}`);
    expect(keys.map((k) => k.id)).toEqual(['a', 'b']);
    expect(() => parsePayloadKeys('a:c2hvcnQ=')).toThrow(/32 bytes/);
    expect(() => parsePayloadKeys('')).toThrow(/at least one/);
  });
});
