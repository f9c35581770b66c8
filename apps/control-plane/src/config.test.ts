import { describe, expect, it } from 'vitest';
import { readConfig } from './api-config.js';
import { readWorkerConfig } from './config.js';

const shared = {
  HCS_TEMPORAL_ADDRESS: '127.0.0.1:7233',
  HCS_DATABASE: JSON.stringify({ kind: 'pglite', dataDir: '/nowhere' }),
  HCS_CONSUL_CATALOGUE: JSON.stringify([{ version: '1.20.1', status: 'RECOMMENDED' }]),
  HCS_PAYLOAD_KEYS: `k:${Buffer.alloc(32, 1).toString('base64')}`,
};

describe('control-plane configuration', () => {
  it('the worker reads only its own settings: no API setting is needed', () => {
    const c = readWorkerConfig({ ...shared, HCS_FLEET_UPGRADE_INTERVAL_SECONDS: '0' });
    expect(c).toMatchObject({ taskQueue: expect.any(String), fleetUpgradeIntervalSeconds: 0, logLevel: 'info' });
    expect(c.catalogue).toEqual([{ version: '1.20.1', status: 'RECOMMENDED' }]);
    expect(c.lifecycle).toBeUndefined();
    expect(c).not.toHaveProperty('auth');
  });

  it('the API needs its own settings beside the shared ones, and names what is missing', () => {
    expect(() => readConfig(shared)).toThrow(/HCS_AUTH/);
    const c = readConfig({ ...shared, HCS_AUTH: '{}' });
    expect(c.api).toEqual({ host: '127.0.0.1', restPort: 0, grpcPort: 0 });
    expect(c.auth).toEqual({ armCertificateThumbprints: [], jwtIssuers: [], operatorTokens: [] });
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
  });

  it('a missing shared setting stops both, naming it', () => {
    const { HCS_PAYLOAD_KEYS: _, ...rest } = shared;
    expect(() => readWorkerConfig(rest)).toThrow(/HCS_PAYLOAD_KEYS/);
    expect(() => readConfig({ ...rest, HCS_AUTH: '{}' })).toThrow(/HCS_PAYLOAD_KEYS/);
  });

  it('the API refuses to listen beyond loopback without TLS', () => {
    expect(() => readConfig({ ...shared, HCS_AUTH: '{}', HCS_API_HOST: '0.0.0.0' })).toThrow(/HCS_API_TLS_CERT_FILE/);
  });
});
