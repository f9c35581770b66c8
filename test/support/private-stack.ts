// A stack of a test file's own, for files that stop and restart services: stopping the shared
// stack's Temporal, OpenBao or Azurite would break the other files of the run. It keeps its state
// and ports on disk (persistent, as `npm start`), and its Azurite and ARM twin reuse the shared
// stack's TLS certificates (copied before they start): this test process trusts local CAs only
// through NODE_EXTRA_CA_CERTS, which names the shared bundle and is read once at process start.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startStack, type Stack, type StackEndpoints } from '../../devstack/stack.js';

/** Starts (or, on the same folder, restarts) a persistent stack in `stackDir` with the store database `databaseName`. */
export async function startPrivateStack(shared: StackEndpoints, stackDir: string, databaseName: string): Promise<Stack> {
  for (const service of ['azurite', 'local-cloud']) {
    const from = join(shared.dataDir, service, 'tls');
    const to = join(stackDir, service, 'tls');
    mkdirSync(to, { recursive: true, mode: 0o700 });
    for (const f of ['ca.pem', 'server.pem', 'server.key']) copyFileSync(join(from, f), join(to, f));
  }
  return startStack({ dataDir: stackDir, persistent: true, database: { name: databaseName, prefer: 'auto' } });
}
