// The caller's bearer token: from the file --token-file names, else the HCS_TOKEN environment
// variable, else the file `token` in the user's configuration folder. A token file must be the
// owner's alone (as ssh insists for keys). The token is never printed: no message here or
// anywhere in the CLI quotes it, only where it came from.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, EXIT } from './errors.js';

/** A bearer token: printable ASCII without spaces (anything else cannot go in a header). */
const TOKEN_SHAPE = /^[\x21-\x7e]+$/;

export interface TokenSources {
  /** --token-file. */
  tokenFile?: string;
  env: NodeJS.ProcessEnv;
  /** The configuration folder (configDir()). */
  configDir: string;
}

/** The token and where it came from (for messages: the place, never the value). */
export function resolveToken(s: TokenSources): { token: string; source: string } {
  if (s.tokenFile) return { token: readTokenFile(s.tokenFile), source: s.tokenFile };
  const fromEnv = s.env.HCS_TOKEN;
  if (fromEnv !== undefined && fromEnv !== '') return { token: checkShape(fromEnv.trim(), 'the HCS_TOKEN variable'), source: 'HCS_TOKEN' };
  const file = join(s.configDir, 'token');
  if (exists(file)) return { token: readTokenFile(file), source: file };
  throw new CliError(EXIT.auth, `no credentials: give --token-file FILE, set HCS_TOKEN, or write the token to ${file} (mode 600)`);
}

function readTokenFile(file: string): string {
  let mode: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new CliError(EXIT.auth, `the token file ${file} is not a file`);
    mode = st.mode;
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(EXIT.auth, `the token file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new CliError(
      EXIT.auth,
      `the token file ${file} can be read by other users (mode ${(mode & 0o777).toString(8)}); make it yours alone: chmod 600 ${file}`,
    );
  }
  return checkShape(readFileSync(file, 'utf8').trim(), `the token file ${file}`);
}

function checkShape(token: string, where: string): string {
  if (token === '') throw new CliError(EXIT.auth, `${where} is empty`);
  if (!TOKEN_SHAPE.test(token))
    throw new CliError(EXIT.auth, `${where} holds characters a bearer token cannot have (spaces or control characters)`);
  return token;
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}
