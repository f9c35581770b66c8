// The offline `fetch` command: downloads one stored snapshot blob to a file, for an SRE restoring
// a snapshot out of band (docs/runbooks/restore-snapshot-out-of-band.md) on a machine without
// the Azure CLI. On Azure it signs in as the SRE (DefaultAzureCredential: `az login`, a managed
// identity, workload identity); with AZURE_STORAGE_CONNECTION_STRING set (a local Azurite) it
// uses that instead, and then the connection string's Blob endpoint must be the account URL
// given, so a file never comes from another account than the one named on the command line.
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, RestError } from '@azure/storage-blob';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { CommandError } from './decrypt.js';

export const FETCH_USAGE =
  'usage: snapshot-fetch --account-url <https://<account>.blob.core.windows.net> --container <cluster-...> --blob <snapshots/<id>.snap> --out <file>';

export interface FetchArgs {
  accountUrl: string;
  container: string;
  blob: string;
  out: string;
}

/** Azure's container names: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit. */
const CONTAINER = /^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$/;

export function parseFetchArgs(argv: string[]): FetchArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { 'account-url': { type: 'string' }, container: { type: 'string' }, blob: { type: 'string' }, out: { type: 'string' } },
    }));
  } catch (err) {
    throw new CommandError(`${err instanceof Error ? err.message : String(err)}\n${FETCH_USAGE}`, 64);
  }
  const missing = ['account-url', 'container', 'blob', 'out'].filter((k) => typeof values[k] !== 'string' || values[k] === '');
  if (missing.length) throw new CommandError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${FETCH_USAGE}`, 64);
  const accountUrl = normalizeAccountUrl(String(values['account-url']));
  const container = String(values.container);
  if (!CONTAINER.test(container))
    throw new CommandError(
      `--container "${container.slice(0, 80)}" is not a Blob container name (3-63 lower-case letters, digits, hyphens)`,
      64,
    );
  const blob = String(values.blob);
  if (blob.startsWith('/') || blob.length > 1024)
    throw new CommandError('--blob is the blob name inside the container, without a leading "/"', 64);
  return { accountUrl, container, blob, out: String(values.out) };
}

/** The account URL without a trailing slash; only https, with no path, query or credentials in it. */
function normalizeAccountUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CommandError(`--account-url "${text.slice(0, 80)}" is not a URL`, 64);
  }
  if (url.protocol !== 'https:') throw new CommandError(`--account-url must be https (got ${url.protocol})`, 64);
  if (url.username || url.password || url.search || url.hash)
    throw new CommandError('--account-url must not carry credentials, a query (SAS) or a fragment: sign in instead', 64);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The Blob client: from AZURE_STORAGE_CONNECTION_STRING when set (its Blob endpoint must be the
 * account URL), else the account URL with DefaultAzureCredential.
 */
export function blobClientFor(args: FetchArgs, env: NodeJS.ProcessEnv = process.env): BlobServiceClient {
  const connection = env.AZURE_STORAGE_CONNECTION_STRING;
  if (!connection) return new BlobServiceClient(args.accountUrl, new DefaultAzureCredential());
  let client: BlobServiceClient;
  try {
    client = BlobServiceClient.fromConnectionString(connection);
  } catch {
    // The connection string holds the account key: never echo it.
    throw new CommandError('AZURE_STORAGE_CONNECTION_STRING is set but is not a Blob connection string', 64);
  }
  const endpoint = client.url.replace(/\/+$/, '');
  if (endpoint !== args.accountUrl)
    throw new CommandError(
      `AZURE_STORAGE_CONNECTION_STRING is for ${endpoint}, not --account-url ${args.accountUrl}; unset it to sign in to ${args.accountUrl}`,
      64,
    );
  return client;
}

/** Downloads the blob to `out` through a temporary file beside it (owner-only); returns its size. */
export async function fetchBlob(args: FetchArgs, client: BlobServiceClient = blobClientFor(args)): Promise<number> {
  const tmp = `${args.out}.partial`;
  const blob = client.getContainerClient(args.container).getBlobClient(args.blob);
  try {
    const res = await blob.download();
    if (!res.readableStreamBody) throw new Error('the download has no body');
    let bytes = 0;
    res.readableStreamBody.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(res.readableStreamBody, createWriteStream(tmp, { mode: 0o600 }));
    renameSync(tmp, args.out);
    return bytes;
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof RestError) {
      if (err.statusCode === 404)
        throw new CommandError(`${args.container}/${args.blob} does not exist in ${args.accountUrl} (${err.code ?? 'not found'})`, 66);
      if (err.statusCode === 401 || err.statusCode === 403)
        throw new CommandError(
          `${args.accountUrl} refused the download (${err.statusCode} ${err.code ?? ''}): the identity needs "Storage Blob Data Reader" on the container`,
          77,
        );
      throw new CommandError(
        `${args.accountUrl} answered ${err.statusCode ?? 'no status'} ${err.code ?? ''} for ${args.container}/${args.blob}`,
        69,
      );
    }
    throw err;
  }
}
