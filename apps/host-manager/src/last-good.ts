// The last complete set of files the agent read from Blob (manifest and every file it names),
// kept on the VM's own disk so a server restarts and rejoins while Blob or the whole control
// plane is unreachable. One file, written to a temporary name, flushed and renamed into place:
// it holds a whole set or nothing, never half of one. Every file's SHA-256 is recorded and
// checked when read back. Owner-only (0600 in the 0700 data folder): it holds the server's
// private key, as the Consul configuration files beside it already do.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir } from './files.js';
import { AGENT_STATE_DIR, manifestSchema, type Manifest } from './manifest.js';

/** A manifest and the bytes of every file it names, as read from Blob in one sync. */
export interface FileSet {
  /** The manifest blob's ETag when it was read. */
  etag: string;
  manifest: Manifest;
  files: Array<{ blob: string; path: string; content: Buffer }>;
}

const recordSchema = z.object({
  format: z.literal(1),
  savedAt: z.string(),
  etag: z.string(),
  manifest: manifestSchema,
  files: z.array(z.object({ blob: z.string(), path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/), base64: z.string() })),
});

export const LAST_GOOD_FILE = 'last-good.json';

export function lastGoodPath(dataDir: string): string {
  return join(dataDir, AGENT_STATE_DIR, LAST_GOOD_FILE);
}

/** Replaces the recorded set with `set`, atomically and durably. */
export function saveLastGood(dataDir: string, set: FileSet): void {
  const path = lastGoodPath(dataDir);
  ensurePrivateDir(dirname(path));
  const record: z.infer<typeof recordSchema> = {
    format: 1,
    savedAt: new Date().toISOString(),
    etag: set.etag,
    manifest: set.manifest,
    files: set.files.map((f) => ({ blob: f.blob, path: f.path, sha256: sha256(f.content), base64: f.content.toString('base64') })),
  };
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(record));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  // The rename itself survives a power loss only once the folder is flushed.
  const dirFd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dirFd);
  } finally {
    closeSync(dirFd);
  }
}

/**
 * The recorded set, `undefined` when none was ever saved; throws when the record is unreadable or
 * a file's bytes do not match their recorded digest (the agent then starts nothing from it).
 */
export function loadLastGood(dataDir: string): FileSet | undefined {
  const path = lastGoodPath(dataDir);
  removeStaleTemporaries(path);
  if (!existsSync(path)) return undefined;
  let parsed: z.infer<typeof recordSchema>;
  try {
    parsed = recordSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new Error(`the last-good record is unreadable (${err instanceof z.ZodError ? 'unexpected shape' : 'not JSON'})`);
  }
  const files = parsed.files.map((f) => {
    const content = Buffer.from(f.base64, 'base64');
    if (sha256(content) !== f.sha256) throw new Error(`the last-good copy of ${f.path} does not match its recorded digest`);
    return { blob: f.blob, path: f.path, content };
  });
  return { etag: parsed.etag, manifest: parsed.manifest, files };
}

/** Temporaries of a save that never reached its rename (the agent died mid-write). */
function removeStaleTemporaries(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir)) return;
  const prefix = `${basename(path)}.`;
  for (const name of readdirSync(dir)) if (name.startsWith(prefix) && name.endsWith('.tmp')) rmSync(join(dir, name), { force: true });
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}
