import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { blobServiceClient, terraformAccess } from './cloud-access.js';
import { lifecycleConfigSchema, parseLifecycleConfig, type LifecycleConfig } from './lifecycle-schema.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-cloud-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const secret = (name: string, value: string) => {
  const p = join(dir, name);
  writeFileSync(p, value, { mode: 0o600 });
  return p;
};
const SUB = '00000000-0000-4000-8000-000000000001';
const base: LifecycleConfig = {
  vault: { address: 'https://vault.internal:8200', tokenFile: secret('vault-token', 's.token'), pkiMount: 'pki', transitMount: 'transit' },
  blob: { url: 'https://hcsprod.blob.core.windows.net' },
  cloud: { tenantId: 'tenant', subscriptionId: SUB, storageAccountId: '/subscriptions/x/sa', adminSshPublicKey: 'ssh-ed25519 AAAA k' },
  terraform: {
    binary: 'terraform',
    cliConfigFile: 'rc',
    workRoot: dir,
    backend: { kind: 'local', dir },
    moduleDir: 'terraform',
    root: 'azure',
  },
  dns: { kind: 'challtestsrv', managementUrl: 'http://127.0.0.1:8055', dnsServer: '127.0.0.1:8053', zone: 'z.test' },
  acme: { directoryUrl: 'https://acme.test/dir', contactEmail: 'sre@hcs.test' },
};
const parse = (patch: (c: LifecycleConfig) => LifecycleConfig) => lifecycleConfigSchema.parse(patch(structuredClone(base)));

describe('HCS_LIFECYCLE', () => {
  it('refuses inline secrets by name, pointing at the file field, without echoing them', () => {
    const inline = { ...base, vault: { ...base.vault, token: 's.inline-secret' }, cloud: { ...base.cloud, clientSecret: 'cs-inline' } };
    const attempt = () => parseLifecycleConfig(JSON.stringify(inline));
    expect(attempt).toThrow(/vault\.token: is no longer read; use vault\.tokenFile/);
    expect(attempt).toThrow(/cloud\.clientSecret: is no longer read; use cloud\.clientSecretFile/);
    expect(attempt).not.toThrow(/inline-secret|cs-inline/);
  });

  it('needs a root module named, and knows only the twin and Azure', () => {
    expect(() => parseLifecycleConfig(JSON.stringify({ ...base, terraform: { ...base.terraform, root: undefined } }))).toThrow(
      /terraform\.root/,
    );
    expect(() => parseLifecycleConfig(JSON.stringify({ ...base, terraform: { ...base.terraform, root: 'aws' } }))).toThrow(
      /terraform\.root/,
    );
  });
});

describe('terraform access', () => {
  it('the Azure root: managed identity, no secret anywhere, the endpoint through the provider environment', () => {
    const a = terraformAccess(parse((c) => ({ ...c, cloud: { ...c.cloud, clientId: 'mi-client' } })));
    expect(a.rootSubdir).toBe(join('examples', 'azure'));
    expect(a.variables).toEqual({
      subscription_id: SUB,
      tenant_id: 'tenant',
      worker_client_id: 'mi-client',
      use_workload_identity: false,
      admin_ssh_public_key: 'ssh-ed25519 AAAA k',
      storage_account_id: '/subscriptions/x/sa',
      blob_account_url: 'https://hcsprod.blob.core.windows.net',
    });
    expect(a.env).toEqual({ ARM_RESOURCE_MANAGER_ENDPOINT: 'https://management.azure.com' });
  });

  it('the Azure root refuses a client secret file', () => {
    const c = parse((c) => ({ ...c, cloud: { ...c.cloud, clientSecretFile: secret('cs', 'x') } }));
    expect(() => terraformAccess(c)).toThrow(/cloud\.clientSecretFile: the azure root authenticates by managed or workload identity only/);
  });

  it('the twin root: the secret from its file into TF_VAR_client_secret, or use_msi without one', () => {
    const twin = (c: LifecycleConfig): LifecycleConfig => ({
      ...c,
      cloud: { ...c.cloud, armEndpoint: 'https://127.0.0.1:8443/', authorityHost: 'https://127.0.0.1:8443/', clientId: 'sp' },
      terraform: { ...c.terraform, root: 'local-twin' },
    });
    const withSecret = terraformAccess(
      parse((c) => ({ ...twin(c), cloud: { ...twin(c).cloud, clientSecretFile: secret('twin-cs', 'cs-value\n') } })),
    );
    expect(withSecret.rootSubdir).toBe(join('examples', 'local-twin'));
    expect(withSecret.env).toEqual({ TF_VAR_client_secret: 'cs-value' });
    expect(withSecret.variables).toMatchObject({ use_msi: false, client_id: 'sp', arm_endpoint: 'https://127.0.0.1:8443/' });
    expect(JSON.stringify(withSecret.variables)).not.toContain('cs-value');
    const msi = terraformAccess(parse(twin));
    expect(msi.env).toEqual({});
    expect(msi.variables).toMatchObject({ use_msi: true });
  });

  it('a missing or world-readable secret file stops the worker, naming the field', () => {
    const missing = parse((c) => ({
      ...c,
      cloud: { ...c.cloud, authorityHost: 'https://x/', clientId: 'sp', clientSecretFile: join(dir, 'none') },
      terraform: { ...c.terraform, root: 'local-twin' },
    }));
    expect(() => terraformAccess(missing)).toThrow(/^HCS_LIFECYCLE cloud\.clientSecretFile: the secret file .*none does not exist$/);
    const open = secret('open-cs', 'x');
    chmodSync(open, 0o644);
    const world = parse((c) => ({
      ...c,
      cloud: { ...c.cloud, authorityHost: 'https://x/', clientId: 'sp', clientSecretFile: open },
      terraform: { ...c.terraform, root: 'local-twin' },
    }));
    expect(() => terraformAccess(world)).toThrow(/cloud\.clientSecretFile: .* mode 0644/);
  });
});

describe('Blob access', () => {
  it('an account key only for a loopback Blob endpoint (Azurite); otherwise managed identity', () => {
    const key = secret('blob-key', Buffer.alloc(32, 7).toString('base64'));
    expect(() => blobServiceClient({ url: 'https://hcsprod.blob.core.windows.net', accountName: 'hcsprod', accountKeyFile: key })).toThrow(
      /blob\.accountKeyFile is for Azurite on loopback only; hcsprod\.blob\.core\.windows\.net is reached by managed identity/,
    );
    expect(
      blobServiceClient({ url: 'https://127.0.0.1:10000/hcsdev', accountName: 'hcsdev', accountKeyFile: key }).credential.constructor.name,
    ).toBe('StorageSharedKeyCredential');
    expect(blobServiceClient({ url: 'https://hcsprod.blob.core.windows.net' }).credential.constructor.name).toBe('DefaultAzureCredential');
  });
});
