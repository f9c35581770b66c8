// Sealing of the few secret documents the API must hand to customers itself (a cluster's client
// configuration with its gossip key, a freshly rotated root token). The worker seals them with
// the control plane's key ring (AES-256-GCM, the same keys as the Temporal payload codec) and
// the store keeps only the sealed text, so the API can open them without calling Vault and no
// secret passes through a workflow. The context (cluster and document name) is bound in as
// associated data: a sealed value copied to another cluster or name does not open.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

export interface SealingKey {
  id: string;
  /** 32 bytes. */
  key: Buffer;
}

const PREFIX = 'hcsbox:v1:';

export class SecretBox {
  private readonly byId: Map<string, Buffer>;
  constructor(private readonly keys: SealingKey[]) {
    if (keys.length === 0) throw new Error('SecretBox needs at least one key');
    for (const k of keys) if (k.key.length !== 32) throw new Error(`sealing key "${k.id}" must be 32 bytes`);
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** `hcsbox:v1:<key id>:<base64 of iv | ciphertext | tag>`; the first key seals. */
  seal(plaintext: string, context: string): string {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(`${id}\n${context}`));
    const data = Buffer.concat([iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${id}:${data.toString('base64')}`;
  }

  open(sealed: string, context: string): string {
    if (!sealed.startsWith(PREFIX)) throw new Error('not a sealed value');
    const rest = sealed.slice(PREFIX.length);
    const colon = rest.indexOf(':');
    const id = rest.slice(0, colon);
    const key = this.byId.get(id);
    if (colon < 0 || !key) throw new Error(`sealed with key "${id}", which is not configured`);
    const text = rest.slice(colon + 1);
    const data = Buffer.from(text, 'base64');
    // Node's decoder skips characters it cannot use; only the exact encoding is accepted.
    if (data.toString('base64') !== text) throw new Error('sealed value is not canonical base64 (altered)');
    if (data.length < 28) throw new Error('sealed value is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
    decipher.setAAD(Buffer.from(`${id}\n${context}`));
    decipher.setAuthTag(data.subarray(data.length - 16));
    try {
      return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('sealed value does not open: wrong key, wrong context or tampered');
    }
  }
}

/**
 * Sealing keys derived from the control plane's configured keys (HKDF-SHA256), so the same
 * configuration serves the payload codec and the box without using one key for two purposes.
 */
export function deriveSealingKeys(keys: SealingKey[]): SealingKey[] {
  return keys.map((k) => ({ id: k.id, key: Buffer.from(hkdfSync('sha256', k.key, Buffer.alloc(0), 'hcs secret box v1', 32)) }));
}
