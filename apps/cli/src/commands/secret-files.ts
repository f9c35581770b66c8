// Files that hold secrets the CLI was handed (client configuration with the gossip key, a root
// token, a federation token): written owner-only, through a temporary file renamed into place.
import { chmodSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { usageError } from '../errors.js';

/** Makes the folder (owner-only when new). */
export function ensureFolder(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw usageError(`the folder ${dir} cannot be made: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

/** Writes `text` to `file` with mode 600, replacing what was there. */
export function writeSecretFile(file: string, text: string): void {
  const tmp = join(dirname(file), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(tmp, text, { mode: 0o600, flag: 'wx' });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  } catch (err) {
    throw usageError(`${file} cannot be written: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}
