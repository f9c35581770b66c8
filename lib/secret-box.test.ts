import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

const k1 = { id: 'k1', key: randomBytes(32) };
const k2 = { id: 'k2', key: randomBytes(32) };

describe('SecretBox', () => {
  it('seals so that only the same context opens it, and the plaintext is not in the sealed text', () => {
    const box = new SecretBox([k1]);
    const sealed = box.seal('gossip-key-value', 'cluster-a/client-config');
    expect(sealed).toMatch(/^hcsbox:v1:k1:/);
    expect(sealed).not.toContain('gossip');
    expect(box.open(sealed, 'cluster-a/client-config')).toBe('gossip-key-value');
    expect(() => box.open(sealed, 'cluster-b/client-config')).toThrow(/wrong key, wrong context or tampered/);
  });

  it('opens values sealed with an older key after rotation; unknown keys and tampering are refused', () => {
    const sealedOld = new SecretBox([k1]).seal('x', 'c');
    const rotated = new SecretBox([k2, k1]);
    expect(rotated.open(sealedOld, 'c')).toBe('x');
    expect(rotated.seal('y', 'c')).toMatch(/^hcsbox:v1:k2:/);
    expect(() => new SecretBox([k2]).open(sealedOld, 'c')).toThrow(/key "k1", which is not configured/);
    const bytes = Buffer.from(sealedOld.split(':')[3]!, 'base64');
    bytes[14]! ^= 1;
    expect(() => rotated.open(`hcsbox:v1:k1:${bytes.toString('base64')}`, 'c')).toThrow(/tampered/);
    expect(() => rotated.open('plain', 'c')).toThrow(/not a sealed value/);
    // Characters the base64 decoder would skip (appended, inserted) are refused too.
    for (const altered of [`${sealedOld}x`, `${sealedOld}=`, sealedOld.replace(/:([A-Za-z0-9+/]{4})/, ':$1 ')])
      expect(() => rotated.open(altered, 'c')).toThrow(/not canonical base64/);
  });
});
