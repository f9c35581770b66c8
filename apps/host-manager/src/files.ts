// Writing what the agent downloads: atomically (temp file + rename, so Consul never reads half
// a certificate), owner-only (0600 files in 0700 folders), and only when the bytes changed.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Returns true when the file was created or its content changed. */
export function writePrivateFile(path: string, content: Buffer): boolean {
  if (existsSync(path) && sha256(readFileSync(path)) === sha256(content)) {
    chmodSync(path, 0o600);
    return false;
  }
  ensurePrivateDir(dirname(path));
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, content, { mode: 0o600 });
  renameSync(tmp, path);
  return true;
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
