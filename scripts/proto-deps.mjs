// Copies the googleapis protos our contract imports (google/api/annotations.proto, http.proto)
// from the google-proto-files package to node_modules/.hcs-proto-deps, where buf lint and
// generation finds them. Idempotent; run by setup.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './toolchain.mjs';

export const protoDepsDir = join(repoRoot, 'node_modules', '.hcs-proto-deps');

export function ensureProtoDeps() {
  const from = join(repoRoot, 'node_modules', 'google-proto-files', 'google', 'api');
  const to = join(protoDepsDir, 'google', 'api');
  mkdirSync(to, { recursive: true });
  for (const f of ['annotations.proto', 'http.proto']) copyFileSync(join(from, f), join(to, f));
  return protoDepsDir;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureProtoDeps();
