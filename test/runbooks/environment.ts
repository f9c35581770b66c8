// The environment docs/runbooks/README.md promises an SRE's shell has, built from a test's stack
// and control plane: the API and an SRE token, Temporal, OpenBao, the store database, Blob, the
// tools on PATH and a scratch folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { StackEndpoints } from '../../devstack/stack.js';
import type { ControlPlane } from '../api/harness.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

export interface RunbookEnvironment {
  env: Record<string, string>;
  /** The scratch folder ($WORK). */
  work: string;
}

export function runbookEnvironment(stack: StackEndpoints, cp: ControlPlane, clusterId: string): RunbookEnvironment {
  const work = mkdtempSync(join(tmpdir(), 'hcs-runbook-'));
  const apiCa = join(work, 'api-ca.pem');
  writeFileSync(apiCa, cp.caCertPem, { mode: 0o600 });
  if (stack.database.kind !== 'postgres') throw new Error('the runbook tests need the store on PostgreSQL (psql)');
  if (!('namespace' in stack.temporal)) throw new Error('the runbook tests run on the dev Temporal server');
  const consul = Object.values(stack.tools.consul).at(-1)!;
  const toolDirs = [stack.tools.temporal, stack.tools.bao, consul].map((b) => dirname(b));
  return {
    work,
    env: {
      HCS_API: cp.api.restUrl,
      HCS_TOKEN: cp.tokens.operator,
      // curl reads this; so does the runbooks' openssl/consul use of the same variable.
      CURL_CA_BUNDLE: apiCa,
      CLUSTER_ID: clusterId,
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_NAMESPACE: stack.temporal.namespace,
      HCS_TASK_QUEUE: cp.taskQueue,
      BAO_ADDR: stack.vault.address,
      BAO_TOKEN: stack.vault.token,
      HCS_TRANSIT_MOUNT: stack.vault.transitMount,
      HCS_DATABASE_URL: stack.database.url,
      HCS_BLOB_URL: stack.blob.url,
      // Azurite only: the account key stands in for the SRE's own Azure sign-in (see the runbook).
      AZURE_STORAGE_CONNECTION_STRING: `DefaultEndpointsProtocol=https;AccountName=${stack.blob.accountName};AccountKey=${stack.blob.accountKey};BlobEndpoint=${stack.blob.url};`,
      HCS_PAYLOAD_KEYS_FILE: cp.payloadKeysFile,
      WORK: work,
      PATH: [...toolDirs, process.env.PATH ?? ''].join(':'),
    },
  };
}
