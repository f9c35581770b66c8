// The fetch command's arguments, its choice of credentials and its errors (the download itself
// runs against Azurite in test/runbooks/day2-runbooks.test.ts).
import type { BlobServiceClient } from '@azure/storage-blob';
import { RestError } from '@azure/storage-blob';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { CommandError } from './decrypt.js';
import { blobClientFor, fetchBlob, parseFetchArgs, type FetchArgs } from './fetch.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-fetch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = [
  '--account-url',
  'https://hcsprod.blob.core.windows.net/',
  '--container',
  'cluster-0123abcd',
  '--blob',
  'snapshots/x.snap',
  '--out',
  'o',
];

function refusal(fn: () => unknown): CommandError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CommandError) return err;
    throw err;
  }
  throw new Error('no refusal');
}

it('parses the four options and drops a trailing slash of the account URL', () => {
  expect(parseFetchArgs(good)).toEqual({
    accountUrl: 'https://hcsprod.blob.core.windows.net',
    container: 'cluster-0123abcd',
    blob: 'snapshots/x.snap',
    out: 'o',
  });
});

it('refuses missing, unknown and malformed options with exit 64 and says which', () => {
  const missing = refusal(() => parseFetchArgs(['--container', 'cluster-abc']));
  expect(missing.exitCode).toBe(64);
  expect(missing.message).toContain('missing --account-url, --blob, --out');
  expect(refusal(() => parseFetchArgs([...good, '--key', 'x'])).message).toContain("Unknown option '--key'");
  expect(refusal(() => parseFetchArgs(good.map((a) => (a.startsWith('https://') ? 'http://127.0.0.1:10000/acct' : a)))).message).toBe(
    '--account-url must be https (got http:)',
  );
  expect(
    refusal(() => parseFetchArgs(good.map((a) => (a.startsWith('https://') ? 'https://a.example/?sv=2024&sig=x' : a)))).message,
  ).toContain('must not carry credentials, a query (SAS)');
  expect(refusal(() => parseFetchArgs(good.map((a) => (a.startsWith('https://') ? 'not a url' : a)))).message).toBe(
    '--account-url "not a url" is not a URL',
  );
  const container = refusal(() => parseFetchArgs(good.map((a) => (a === 'cluster-0123abcd' ? 'Cluster_X' : a))));
  expect(container.exitCode).toBe(64);
  expect(container.message).toContain('--container "Cluster_X" is not a Blob container name');
  expect(refusal(() => parseFetchArgs(good.map((a) => (a === 'snapshots/x.snap' ? '/snapshots/x.snap' : a)))).message).toContain(
    'without a leading "/"',
  );
});

it('signs in with DefaultAzureCredential unless a connection string is set, which must name the same account URL', () => {
  const args = parseFetchArgs(good);
  expect(blobClientFor(args, {}).credential.constructor.name).toBe('DefaultAzureCredential');
  const key = Buffer.alloc(32, 7).toString('base64');
  const azurite = `DefaultEndpointsProtocol=https;AccountName=devacct;AccountKey=${key};BlobEndpoint=https://127.0.0.1:10000/devacct;`;
  const local = parseFetchArgs(good.map((a) => (a.startsWith('https://') ? 'https://127.0.0.1:10000/devacct' : a)));
  expect(blobClientFor(local, { AZURE_STORAGE_CONNECTION_STRING: azurite }).url.replace(/\/$/, '')).toBe('https://127.0.0.1:10000/devacct');
  const other = refusal(() => blobClientFor(args, { AZURE_STORAGE_CONNECTION_STRING: azurite }));
  expect(other.exitCode).toBe(64);
  expect(other.message).toBe(
    'AZURE_STORAGE_CONNECTION_STRING is for https://127.0.0.1:10000/devacct, not --account-url https://hcsprod.blob.core.windows.net; unset it to sign in to https://hcsprod.blob.core.windows.net',
  );
  expect(other.message).not.toContain(key);
  const garbage = refusal(() => blobClientFor(args, { AZURE_STORAGE_CONNECTION_STRING: `AccountKey=${key}` }));
  expect(garbage.message).toBe('AZURE_STORAGE_CONNECTION_STRING is set but is not a Blob connection string');
});

/** A Blob service whose one blob answers `download` as given. */
function fakeService(download: () => Promise<{ readableStreamBody?: NodeJS.ReadableStream }>): BlobServiceClient {
  return { getContainerClient: () => ({ getBlobClient: () => ({ download }) }) } as unknown as BlobServiceClient;
}

it('writes the blob owner-only through a temporary file; a missing blob (66) or a refusal (77) leaves no file', async () => {
  const args: FetchArgs = { accountUrl: 'https://a.example', container: 'cluster-x1', blob: 'snapshots/s.snap', out: join(dir, 'ok.bin') };
  const bytes = await fetchBlob(
    args,
    fakeService(async () => ({ readableStreamBody: Readable.from([Buffer.from('stored bytes')]) })),
  );
  expect(bytes).toBe(12);
  expect(readFileSync(args.out, 'utf8')).toBe('stored bytes');
  expect(statSync(args.out).mode & 0o777).toBe(0o600);
  expect(existsSync(`${args.out}.partial`)).toBe(false);

  const gone = { ...args, out: join(dir, 'gone.bin') };
  const notFound = await fetchBlob(
    gone,
    fakeService(async () => {
      throw new RestError('The specified blob does not exist.', { statusCode: 404, code: 'BlobNotFound' });
    }),
  ).catch((e: unknown) => e as CommandError);
  expect(notFound).toBeInstanceOf(CommandError);
  expect(notFound).toMatchObject({
    exitCode: 66,
    message: 'cluster-x1/snapshots/s.snap does not exist in https://a.example (BlobNotFound)',
  });
  expect(existsSync(gone.out) || existsSync(`${gone.out}.partial`)).toBe(false);

  const denied = await fetchBlob(
    { ...args, out: join(dir, 'denied.bin') },
    fakeService(async () => {
      throw new RestError('This request is not authorized.', { statusCode: 403, code: 'AuthorizationPermissionMismatch' });
    }),
  ).catch((e: unknown) => e as CommandError);
  expect(denied).toMatchObject({ exitCode: 77 });
  expect((denied as CommandError).message).toContain('needs "Storage Blob Data Reader"');
  expect(existsSync(join(dir, 'denied.bin'))).toBe(false);
});

it('as a process: usage errors exit 64 on stderr and write nothing', () => {
  const main = fileURLToPath(new URL('./fetch-main.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, '--container', 'cluster-abc'], { encoding: 'utf8' });
  expect(r.status).toBe(64);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('snapshot-fetch: missing --account-url, --blob, --out');
  expect(r.stderr).toContain('usage: snapshot-fetch');
});
