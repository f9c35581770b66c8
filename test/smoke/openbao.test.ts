import nodeVault from 'node-vault';
import { X509Certificate, randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';

const stack = inject('stack');
const vault = nodeVault({ endpoint: stack.vault.address, token: stack.vault.token, apiVersion: 'v1' });

it('issues a certificate from a PKI role through node-vault', async () => {
  const pki = stack.vault.pkiMount;
  const issuer = `smoke-${randomUUID().slice(0, 8)}`;
  const root = (await vault.write(`${pki}/root/generate/internal`, {
    common_name: `${issuer} root`,
    issuer_name: issuer,
    ttl: '24h',
  })) as { data: { certificate: string } };
  const role = `server-${issuer}`;
  await vault.write(`${pki}/roles/${role}`, {
    issuer_ref: issuer,
    allowed_domains: ['dc1.consul'],
    allow_subdomains: true,
    allow_ip_sans: true,
    max_ttl: '72h',
  });
  const issued = (await vault.write(`${pki}/issue/${role}`, {
    common_name: 'server.dc1.consul',
    ip_sans: '127.0.0.1',
    ttl: '1h',
  })) as { data: { certificate: string; private_key: string; serial_number: string } };

  const cert = new X509Certificate(issued.data.certificate);
  const ca = new X509Certificate(root.data.certificate);
  expect(cert.subjectAltName).toContain('DNS:server.dc1.consul');
  expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
  expect(cert.verify(ca.publicKey)).toBe(true);
  expect(cert.checkIssued(ca)).toBe(true);
  expect(issued.data.private_key).toMatch(/PRIVATE KEY/);

  // A name outside the role is refused by the real PKI engine.
  await expect(vault.write(`${pki}/issue/${role}`, { common_name: 'evil.example.com' })).rejects.toThrow(/not allowed/);
});

it('encrypts and decrypts through transit', async () => {
  const key = `smoke-${randomUUID().slice(0, 8)}`;
  await vault.write(`${stack.vault.transitMount}/keys/${key}`, { type: 'aes256-gcm96' });
  const plaintext = Buffer.from('gossip-key-material').toString('base64');
  const enc = (await vault.write(`${stack.vault.transitMount}/encrypt/${key}`, { plaintext })) as { data: { ciphertext: string } };
  expect(enc.data.ciphertext).toMatch(/^vault:v1:/);
  expect(enc.data.ciphertext).not.toContain(plaintext);
  const dec = (await vault.write(`${stack.vault.transitMount}/decrypt/${key}`, { ciphertext: enc.data.ciphertext })) as {
    data: { plaintext: string };
  };
  expect(Buffer.from(dec.data.plaintext, 'base64').toString()).toBe('gossip-key-material');
  // Tampered ciphertext does not decrypt.
  const tampered = enc.data.ciphertext.slice(0, -4) + (enc.data.ciphertext.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  await expect(vault.write(`${stack.vault.transitMount}/decrypt/${key}`, { ciphertext: tampered })).rejects.toThrow();
});
