// The client configuration customers fetch with listClientConfig: rendered from the cluster's
// private DNS name, the gossip key and the cluster's intermediate CA, sealed for the API (which alone opens it).
import { SECRET, sealContext } from '../contract/secret-names.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { clientConfigDocument } from '../domain/consul-config.js';
import type { SqlExecutor } from '../store/database.js';
import { putSecret } from '../store/secrets.js';
import type { SecretReader } from './secrets.js';

export interface ClientConfigDeps {
  db: SqlExecutor;
  secrets: Pick<SecretReader, 'text'>;
  pki: { clusterIntermediate(clusterKey: string): Promise<string> };
  /** Seals the documents the API hands out. */
  sealer: { seal(plaintext: string, context: string): string };
}

export function createClientConfigActivities({ db, secrets, pki, sealer }: ClientConfigDeps) {
  return {
    /**
     * The client configuration customers fetch with listClientConfig, sealed for the API. It names
     * the servers by the cluster's private DNS name, not by address, so it stays right when a
     * server comes back at another address (`servers` is accepted for older callers, unused).
     */
    async publishClientConfig(a: { plan: ClusterPlan; servers?: ServerInfo[] }): Promise<void> {
      const doc = clientConfigDocument({
        plan: a.plan,
        gossip: await secrets.text(a.plan.resourceKey, SECRET.gossipKey),
        // Client agents talk to this cluster's servers only: its own intermediate, nothing else.
        caBundlePem: await pki.clusterIntermediate(a.plan.resourceKey),
      });
      await putSecret(
        db,
        a.plan.resourceKey,
        SECRET.clientConfig,
        sealer.seal(JSON.stringify(doc), sealContext(a.plan.resourceKey, SECRET.clientConfig)),
      );
    },
  };
}
