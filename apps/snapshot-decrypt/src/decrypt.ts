// The offline `decrypt` command for our encrypted snapshot format (lib/segmented-aes-gcm.ts), for
// an SRE restoring a snapshot out of band (docs/runbooks/restore-snapshot-out-of-band.md): the
// stored bytes and the snapshot's data key in, Consul's own snapshot archive out, with nothing
// of the control plane running. The data key is the one the snapshot's record wraps with Vault
// transit (`bao write transit/decrypt/<key> ciphertext=<wrapped_key>` answers it in base64).
import { createReadStream, createWriteStream, readFileSync, renameSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { KEY_BYTES, SnapshotDecryptError, decryptStream } from '../../../lib/segmented-aes-gcm.js';

export const USAGE = 'usage: snapshot-decrypt --in <stored snapshot file> --key-file <file with the base64 data key> --out <file>';

/** A refusal with the exit code the command ends with: 64 for usage, 65 for bad input data. */
export class CommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export interface DecryptArgs {
  in: string;
  keyFile: string;
  out: string;
}

export function parseDecryptArgs(argv: string[]): DecryptArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: { in: { type: 'string' }, 'key-file': { type: 'string' }, out: { type: 'string' } } }));
  } catch (err) {
    throw new CommandError(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`, 64);
  }
  const missing = ['in', 'key-file', 'out'].filter((k) => typeof values[k] !== 'string' || values[k] === '');
  if (missing.length) throw new CommandError(`missing ${missing.map((m) => `--${m}`).join(', ')}\n${USAGE}`, 64);
  return { in: String(values.in), keyFile: String(values['key-file']), out: String(values.out) };
}

/** Reads the base64 data key; never echoes it. */
export function readDataKey(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new CommandError(`cannot read the key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, 66);
  }
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES || key.toString('base64') !== text)
    throw new CommandError(`the key file ${file} does not hold a base64 ${KEY_BYTES}-byte key (it holds ${key.length} bytes)`, 65);
  return key;
}

/**
 * Decrypts `in` to `out` through a temporary file beside it, so a failure leaves no partial
 * archive; returns the plaintext size.
 */
export async function decryptFile(args: DecryptArgs): Promise<number> {
  const key = readDataKey(args.keyFile);
  const tmp = `${args.out}.partial`;
  let bytes = 0;
  try {
    const decrypt = decryptStream(key);
    decrypt.on('data', (chunk: Buffer) => (bytes += chunk.length));
    await pipeline(createReadStream(args.in), decrypt, createWriteStream(tmp, { mode: 0o600 }));
    renameSync(tmp, args.out);
    return bytes;
  } catch (err) {
    rmSync(tmp, { force: true });
    if (err instanceof SnapshotDecryptError) throw new CommandError(`${args.in}: ${err.message} (${err.code})`, 65);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CommandError(`cannot read ${args.in}: no such file`, 66);
    throw err;
  } finally {
    key.fill(0);
  }
}
