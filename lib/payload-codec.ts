// Encryption of everything the control plane puts into Temporal (workflow inputs, results,
// activity arguments, heartbeats): AES-256-GCM with a key from configuration, so Temporal's
// history holds ciphertext only. Several keys may be configured for rotation: the first
// encrypts, all decrypt. SREs read histories through the API's authenticated codec endpoint.
import type { Payload, PayloadCodec } from '@temporalio/common';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const ENCRYPTED_ENCODING = 'binary/encrypted';
const te = new TextEncoder();
const td = new TextDecoder();

export interface PayloadKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

/** Parses `id1:base64key1,id2:base64key2` (the first key encrypts). */
export function parsePayloadKeys(spec: string): PayloadKey[] {
  const keys = spec
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const [id, b64] = part.split(':');
      const key = Buffer.from(b64 ?? '', 'base64');
      if (!id || key.length !== 32) throw new Error(`payload key "${id ?? ''}" must be "<id>:<32 bytes in base64>"`);
      return { id, key };
    });
  if (keys.length === 0) throw new Error('at least one payload key is required');
  return keys;
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  constructor(private readonly keys: PayloadKey[]) {
    if (keys.length === 0) throw new Error('AesGcmPayloadCodec needs a key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const { id, key } = this.keys[0]!;
    return payloads.map((p) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(te.encode(id));
      const plain = Buffer.from(serialize(p));
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: te.encode(ENCRYPTED_ENCODING), 'encryption-key-id': te.encode(id) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (td.decode(p.metadata?.encoding ?? new Uint8Array()) !== ENCRYPTED_ENCODING) return p;
      const id = td.decode(p.metadata?.['encryption-key-id'] ?? new Uint8Array());
      const key = this.byId.get(id);
      if (!key) throw new Error(`payload was encrypted with key "${id}", which is not configured`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
      decipher.setAAD(te.encode(id));
      decipher.setAuthTag(data.subarray(data.length - 16));
      return deserialize(Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]));
    });
  }
}

// A payload is metadata (string -> bytes) plus data; stored as JSON with base64 values.
function serialize(p: Payload): string {
  const metadata = Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
  return JSON.stringify({ metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') });
}

function deserialize(b: Buffer): Payload {
  const o = JSON.parse(b.toString('utf8')) as { metadata: Record<string, string>; data: string };
  return {
    metadata: Object.fromEntries(Object.entries(o.metadata).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'base64'))])),
    data: new Uint8Array(Buffer.from(o.data, 'base64')),
  };
}
