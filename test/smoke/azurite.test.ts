import { BlobServiceClient, RestError, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';

const stack = inject('stack');

it('creates a blob with If-None-Match: * and refuses a second create with 409', async () => {
  const service = new BlobServiceClient(stack.blob.url, new StorageSharedKeyCredential(stack.blob.accountName, stack.blob.accountKey));
  const container = service.getContainerClient(`smoke-${randomUUID()}`);
  await container.create();
  const blob = container.getBlockBlobClient('servers/0/config.json');
  const first = await blob.upload('{"v":1}', 7, { conditions: { ifNoneMatch: '*' } });
  expect(first.etag).toBeTruthy();

  const second = await blob.upload('{"v":2}', 7, { conditions: { ifNoneMatch: '*' } }).catch((e: unknown) => e);
  expect(second).toBeInstanceOf(RestError);
  expect((second as RestError).statusCode).toBe(409);
  expect((second as RestError).code).toBe('BlobAlreadyExists');
  // The first version is untouched.
  expect((await blob.downloadToBuffer()).toString()).toBe('{"v":1}');
  await container.delete();
});
