// The worker's Blob client without an account key: DefaultAzureCredential takes a managed-identity
// token from the ARM twin's identity endpoint (the App Service protocol, IDENTITY_ENDPOINT and
// IDENTITY_HEADER, as on an Azure host) and Azurite, started with `--oauth basic`, accepts it as
// Azure Storage accepts an Entra ID token. A wrong token is refused, so the check can fail.
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { blobServiceClient } from '../../apps/worker/src/cloud-access.js';

const stack = inject('stack');
const container = `mi-${randomBytes(6).toString('hex')}`;
const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };

beforeAll(() => {
  // What the platform gives a process on an Azure host with a managed identity.
  process.env.IDENTITY_ENDPOINT = stack.cloud.controlPlaneIdentity.endpoint;
  process.env.IDENTITY_HEADER = stack.cloud.controlPlaneIdentity.header;
});
afterAll(async () => {
  await blobServiceClient({ url: stack.blob.url }).getContainerClient(container).deleteIfExists();
  for (const [name, value] of [
    ['IDENTITY_ENDPOINT', saved.endpoint],
    ['IDENTITY_HEADER', saved.header],
  ] as const)
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
});

it('writes, lists and reads blobs by managed identity, with no account key configured', async () => {
  const client = blobServiceClient({ url: stack.blob.url });
  const c = client.getContainerClient(container);
  await c.create();
  await c.getBlockBlobClient('server-0/manifest.json').upload('{"hello":"identity"}', 20);
  const names: string[] = [];
  for await (const b of c.listBlobsFlat()) names.push(b.name);
  expect(names).toEqual(['server-0/manifest.json']);
  const body = await c.getBlobClient('server-0/manifest.json').downloadToBuffer();
  expect(body.toString()).toBe('{"hello":"identity"}');
});

it('Azurite checks the bearer token: a token for another audience is refused', async () => {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = { iss: `https://sts.windows.net/${stack.cloud.tenantId}/`, nbf: now - 60, iat: now - 60, exp: now + 600 };
  const token = (aud: string) => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64({ ...claims, aud })}.c2ln`;
  const client = (aud: string) =>
    new BlobServiceClient(
      stack.blob.url,
      { getToken: () => Promise.resolve({ token: token(aud), expiresOnTimestamp: (now + 600) * 1000 }) },
      {
        retryOptions: { maxTries: 1 },
      },
    );
  const refused = await client('https://vault.azure.net')
    .getContainerClient(container)
    .getProperties()
    .catch((e: unknown) => e);
  expect(refused).toMatchObject({ statusCode: 403, code: 'AuthenticationFailed' });
  // The same token for Storage's audience passes Azurite's basic check: the audience made the difference.
  await expect(client('https://storage.azure.com').getContainerClient(container).getProperties()).resolves.toBeDefined();
});

it("the token is the twin's managed-identity token for Storage (the control plane's identity)", async () => {
  const { token } = await new DefaultAzureCredential().getToken('https://storage.azure.com/.default');
  const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  expect(claims).toMatchObject({
    iss: `https://sts.windows.net/${stack.cloud.tenantId}/`,
    aud: 'https://storage.azure.com',
    appid: stack.cloud.clientId,
  });
});
