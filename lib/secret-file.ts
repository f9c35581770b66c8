// Secrets reach the processes as files (written by a Vault template, a Kubernetes secret volume
// or `npm start`'s state folder), never as environment values: a process's environment is copied
// into every child it starts, shown by orchestrators and kept in crash dumps. A secret file must
// exist, hold something, and be closed to other users (a world-readable or world-writable secret
// file is refused: anyone on the machine could read or replace the secret).
import { readFileSync, statSync } from 'node:fs';

/** Modes that open the file to every user of the machine (read or write). */
const OPEN_TO_OTHERS = 0o006;

/**
 * The trimmed content of the secret file `path`, named by `setting` in every error (never the
 * content). Refuses a missing, unreadable, empty or world-accessible file.
 */
export function readSecretFile(setting: string, path: string): string {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new Error(`${setting}: ${path} is not a regular file`);
    mode = st.mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${setting}: the secret file ${path} does not exist`);
    if ((err as NodeJS.ErrnoException).code)
      throw new Error(`${setting}: cannot read the secret file ${path} (${(err as NodeJS.ErrnoException).code})`);
    throw err;
  }
  if (mode & OPEN_TO_OTHERS) {
    throw new Error(
      `${setting}: the secret file ${path} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}; other users may read or write it. ` +
        'Allow the owner only (chmod 600, or 640 with a group of its own)',
    );
  }
  let content: string;
  try {
    content = readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new Error(`${setting}: cannot read the secret file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!content) throw new Error(`${setting}: the secret file ${path} is empty`);
  return content;
}
