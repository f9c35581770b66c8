// Copies the googleapis protos we use (google/api/annotations.proto and http.proto for the
// contract's REST mapping, google/rpc/status.proto and error_details.proto for gRPC errors)
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
  // google.rpc.Status and its error details: gRPC's rich error model.
  const rpcFrom = join(repoRoot, 'node_modules', 'google-proto-files', 'google', 'rpc');
  const rpcTo = join(protoDepsDir, 'google', 'rpc');
  mkdirSync(rpcTo, { recursive: true });
  for (const f of ['status.proto', 'error_details.proto']) copyFileSync(join(rpcFrom, f), join(rpcTo, f));
  return protoDepsDir;
}

if (import.meta.url === `file://${process.argv[1]}`) ensureProtoDeps();
