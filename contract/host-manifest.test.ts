import { describe, expect, it } from 'vitest';
import { hostManifestSchema, MANIFEST_PATH, manifestBlobName } from './host-manifest.js';

describe('the host-manager manifest', () => {
  const written = {
    consulVersion: '1.22.7',
    generation: 4,
    files: [
      { blob: 'servers/0/tls/ca.pem', path: MANIFEST_PATH.ca },
      { blob: 'servers/0/tls/server-0a1b.pem', path: MANIFEST_PATH.serverCert },
      { blob: 'servers/0/tls/server-0a1b.key', path: MANIFEST_PATH.serverKey },
      { blob: 'servers/0/consul.json', path: MANIFEST_PATH.consulConfig },
    ],
  };

  it('reads back what the control plane writes, keys in the order written', () => {
    const text = JSON.stringify(hostManifestSchema.parse(written), null, 2);
    expect(hostManifestSchema.parse(JSON.parse(text))).toEqual(written);
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['consulVersion', 'generation', 'files']);
  });

  it('places the files where the server configuration expects them', () => {
    expect(MANIFEST_PATH).toEqual({
      ca: 'tls/ca.pem',
      serverCert: 'tls/server.pem',
      serverKey: 'tls/server.key',
      httpsCert: 'tls/https.pem',
      httpsKey: 'tls/https.key',
      consulConfig: 'config/10-cluster.json',
    });
    expect(manifestBlobName('servers/2/')).toBe('servers/2/manifest.json');
  });

  it('refuses a negative or fractional generation, an empty blob or path, and a missing version', () => {
    expect(hostManifestSchema.safeParse({ ...written, generation: -1 }).success).toBe(false);
    expect(hostManifestSchema.safeParse({ ...written, generation: 1.5 }).success).toBe(false);
    expect(hostManifestSchema.safeParse({ ...written, files: [{ blob: '', path: 'tls/ca.pem' }] }).success).toBe(false);
    expect(hostManifestSchema.safeParse({ ...written, files: [{ blob: 'b', path: '' }] }).success).toBe(false);
    const { consulVersion: _dropped, ...noVersion } = written;
    expect(hostManifestSchema.safeParse(noVersion).success).toBe(false);
  });
});
