import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { readConfig } from './api-config.js';
import { readWorkerConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-config-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEYS = `k:${Buffer.alloc(32, 1).toString('base64')}`;
const keysFile = join(dir, 'payload-keys');
writeFileSync(keysFile, `${KEYS}\n`, { mode: 0o600 });

const shared = {
  HCS_TEMPORAL_ADDRESS: '127.0.0.1:7233',
  HCS_DATABASE: JSON.stringify({ kind: 'pglite', dataDir: '/nowhere' }),
  HCS_CONSUL_CATALOGUE: JSON.stringify([{ version: '1.20.1', status: 'RECOMMENDED' }]),
  HCS_PAYLOAD_KEYS_FILE: keysFile,
};

describe('control-plane configuration', () => {
  it('the worker reads only its own settings: no API setting is needed', () => {
    const c = readWorkerConfig({ ...shared, HCS_FLEET_UPGRADE_INTERVAL_SECONDS: '0' });
    expect(c).toMatchObject({ taskQueue: expect.any(String), fleetUpgradeIntervalSeconds: 0, logLevel: 'info' });
    expect(c.catalogue).toEqual([{ version: '1.20.1', status: 'RECOMMENDED' }]);
    expect(c.payloadKeys).toEqual([{ id: 'k', key: Buffer.alloc(32, 1) }]);
    expect(c.lifecycle).toBeUndefined();
    expect(c).not.toHaveProperty('auth');
  });

  it('the safety firings: per-cluster schedules by default, a fleet slot that divides the hour, anything else refused by name', () => {
    expect(readWorkerConfig(shared).safetyFiringSlotSeconds).toBe(0);
    expect(readWorkerConfig({ ...shared, HCS_SAFETY_FIRING_SLOT_SECONDS: '60' }).safetyFiringSlotSeconds).toBe(60);
    expect(() => readWorkerConfig({ ...shared, HCS_SAFETY_FIRING_SLOT_SECONDS: '7' })).toThrow(
      /HCS_SAFETY_FIRING_SLOT_SECONDS: must be 0 or divide 3600/,
    );
    expect(() => readWorkerConfig({ ...shared, HCS_SAFETY_FIRING_SLOT_SECONDS: '-60' })).toThrow(/HCS_SAFETY_FIRING_SLOT_SECONDS/);
  });

  it('the API needs its own settings beside the shared ones, and names what is missing', () => {
    expect(() => readConfig(shared)).toThrow(/HCS_AUTH/);
    const c = readConfig({ ...shared, HCS_AUTH: '{}' });
    expect(c.api).toMatchObject({ host: '127.0.0.1', restPort: 0, grpcPort: 0 });
    expect(c.auth).toEqual({ armCertificateThumbprints: [], jwtIssuers: [], operatorTokens: [] });
    expect(c.temporal).toEqual({ address: '127.0.0.1:7233', namespace: 'default' });
  });

  it('a missing shared setting stops both, naming it', () => {
    const { HCS_PAYLOAD_KEYS_FILE: _, ...rest } = shared;
    expect(() => readWorkerConfig(rest)).toThrow(/HCS_PAYLOAD_KEYS_FILE/);
    expect(() => readConfig({ ...rest, HCS_AUTH: '{}' })).toThrow(/HCS_PAYLOAD_KEYS_FILE/);
  });

  it('the payload keys come from a file only: inline keys are refused, naming the file setting, and never echoed', () => {
    const attempt = () => readWorkerConfig({ ...shared, HCS_PAYLOAD_KEYS: KEYS });
    expect(attempt).toThrow(/HCS_PAYLOAD_KEYS: is no longer read; put the keys in a file .* HCS_PAYLOAD_KEYS_FILE/);
    expect(attempt).not.toThrow(KEYS.split(':')[1]!);
  });

  it('a missing, world-readable, empty or malformed payload key file stops the process, naming the setting', () => {
    expect(() => readWorkerConfig({ ...shared, HCS_PAYLOAD_KEYS_FILE: join(dir, 'nope') })).toThrow(
      /^HCS_PAYLOAD_KEYS_FILE: the secret file .*nope does not exist$/,
    );
    const open = join(dir, 'open-keys');
    writeFileSync(open, KEYS);
    chmodSync(open, 0o644);
    expect(() => readWorkerConfig({ ...shared, HCS_PAYLOAD_KEYS_FILE: open })).toThrow(/HCS_PAYLOAD_KEYS_FILE: .* mode 0644; other users/);
    const bad = join(dir, 'bad-keys');
    writeFileSync(bad, 'k:short', { mode: 0o600 });
    expect(() => readWorkerConfig({ ...shared, HCS_PAYLOAD_KEYS_FILE: bad })).toThrow(/^HCS_PAYLOAD_KEYS_FILE: payload key "k" must be/);
  });

  it('the callers come inline or from an owner-only file, exactly one of them', () => {
    const auth = { armCertificateThumbprints: ['AB:CD'], jwtIssuers: [], operatorTokens: [] };
    const authFile = join(dir, 'auth.json');
    writeFileSync(authFile, JSON.stringify(auth), { mode: 0o600 });
    expect(readConfig({ ...shared, HCS_AUTH_FILE: authFile }).auth).toEqual(auth);
    expect(() => readConfig({ ...shared, HCS_AUTH_FILE: authFile, HCS_AUTH: '{}' })).toThrow(/HCS_AUTH and HCS_AUTH_FILE are both set/);
    expect(() => readConfig({ ...shared, HCS_AUTH_FILE: join(dir, 'no-auth.json') })).toThrow(
      /^HCS_AUTH_FILE: the secret file .* does not exist/,
    );
    const bad = join(dir, 'bad-auth.json');
    writeFileSync(bad, JSON.stringify({ operatorTokens: [{ name: 'x', sha256: 'nope', role: 'admin', subscriptions: '*' }] }), {
      mode: 0o600,
    });
    expect(() => readConfig({ ...shared, HCS_AUTH_FILE: bad })).toThrow(/HCS_AUTH_FILE: operatorTokens\.0\.sha256/);
    chmodSync(authFile, 0o644);
    expect(() => readConfig({ ...shared, HCS_AUTH_FILE: authFile })).toThrow(/HCS_AUTH_FILE: .* mode 0644/);
  });

  it('the API refuses to listen beyond loopback without TLS', () => {
    expect(() => readConfig({ ...shared, HCS_AUTH: '{}', HCS_API_HOST: '0.0.0.0' })).toThrow(/HCS_API_TLS_CERT_FILE/);
  });
});
