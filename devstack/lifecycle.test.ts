import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { buildLifecycleDeps, lifecycleConfigSchema } from '../apps/worker/src/lifecycle-config.js';
import { deriveSealingKeys, SecretBox } from '../lib/secret-box.js';
import type { SqlDatabase } from '../store/database.js';
import { localLifecycleConfig } from './lifecycle.js';
import type { StackEndpoints } from './stack.js';

const dataDir = mkdtempSync(join(tmpdir(), 'hcs-local-lifecycle-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// The endpoints localLifecycleConfig reads, with secrets of the stack's kind.
const stack = {
  dataDir,
  database: { kind: 'pglite', dataDir: join(dataDir, 'db') },
  vault: { address: 'http://127.0.0.1:8200', token: 's.vault-token', pkiMount: 'pki', transitMount: 'transit' },
  blob: { url: 'https://127.0.0.1:10000/hcsdev', accountName: 'hcsdev', accountKey: Buffer.alloc(64, 3).toString('base64') },
  cloud: {
    url: 'https://127.0.0.1:8443',
    subscriptionId: '00000000-0000-4000-8000-000000000002',
    clientId: 'sp-client',
    clientSecret: 'twin-client-secret',
    caCertFile: join(dataDir, 'twin-ca.pem'),
  },
  tools: { terraform: 'terraform', terraformConfig: { cliConfigFile: 'rc' } },
  acme: {
    apiCaCertPem: 'pem',
    directoryUrl: 'https://127.0.0.1:14000/dir',
    dnsManagementUrl: 'http://127.0.0.1:8055',
    dnsAddress: '127.0.0.1:8053',
  },
} as unknown as StackEndpoints;

it("npm start's worker configuration holds no secret: each is an owner-only file the worker reads", () => {
  const config = lifecycleConfigSchema.parse(localLifecycleConfig(stack, { workRoot: join(dataDir, 'work') }));
  const text = JSON.stringify(config);
  for (const secret of ['s.vault-token', stack.blob.accountKey, 'twin-client-secret']) expect(text).not.toContain(secret);
  const files = [config.vault.tokenFile, config.blob.accountKeyFile!, config.cloud.clientSecretFile!];
  expect(files.map((f) => readFileSync(f, 'utf8'))).toEqual(['s.vault-token', stack.blob.accountKey, 'twin-client-secret']);
  for (const f of files) expect(statSync(f).mode & 0o777).toBe(0o600);
  expect(statSync(join(dataDir, 'secrets')).mode & 0o777).toBe(0o700);
  // The worker builds its clients from it (Vault token, Blob key and client secret read from the files).
  const deps = buildLifecycleDeps(config, {
    db: {} as SqlDatabase,
    sealer: new SecretBox(deriveSealingKeys([{ id: 'k', key: Buffer.alloc(32) }])),
  });
  expect(deps.infrastructure.rootSubdir).toBe(join('examples', 'local-twin'));
  expect(deps.infrastructure.variables).toMatchObject({ use_msi: false, client_id: 'sp-client' });
});
