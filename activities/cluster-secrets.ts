// A cluster's own secrets: the gossip key and the control plane's ACL tokens, generated once and
// stored transit-encrypted (a secondary shares its primary's gossip key and management token),
// and removed with the cluster.
import { randomBytes, randomUUID } from 'node:crypto';
import { SECRET } from '../contract/secret-names.js';
import type { SqlExecutor } from '../store/database.js';
import { deleteSecrets, getSecret, putSecretIfAbsent } from '../store/secrets.js';
import type { SecretReader } from './secrets.js';

export interface ClusterSecretsDeps {
  db: SqlExecutor;
  secrets: Pick<SecretReader, 'text'>;
  /** Vault transit: encrypts what the store keeps. */
  cipher: { encrypt(plaintext: string): Promise<string> };
}

export function createClusterSecretsActivities({ db, secrets, cipher }: ClusterSecretsDeps) {
  return {
    /**
     * Gossip key and ACL tokens: generated once per cluster, stored transit-encrypted. A
     * secondary takes the gossip key and management token of its primary (one WAN pool, one ACL
     * system) and gets a replication token of its own.
     */
    async ensureClusterSecrets(a: { resourceKey: string; primaryResourceKey?: string | undefined }): Promise<{ names: string[] }> {
      const primaryKey = a.primaryResourceKey;
      const token = async () => JSON.stringify({ accessorId: randomUUID(), secretId: randomUUID() });
      const fromPrimary = (name: string) => () => secrets.text(primaryKey!, name);
      const wanted: Array<[string, () => Promise<string>]> = [
        [SECRET.gossipKey, primaryKey ? fromPrimary(SECRET.gossipKey) : async () => randomBytes(32).toString('base64')],
        [SECRET.managementToken, primaryKey ? fromPrimary(SECRET.managementToken) : token],
        [SECRET.agentToken, token],
        [SECRET.snapshotToken, token],
        ...(primaryKey ? [[SECRET.replicationToken, token] as [string, () => Promise<string>]] : []),
      ];
      for (const [name, make] of wanted) {
        if ((await getSecret(db, a.resourceKey, name)) !== undefined) continue;
        // The first writer wins: a concurrent or retried attempt keeps the stored value.
        await putSecretIfAbsent(db, a.resourceKey, name, await cipher.encrypt(await make()));
      }
      return { names: wanted.map(([n]) => n) };
    },

    async deleteClusterSecrets(a: { resourceKey: string }): Promise<{ deleted: number }> {
      return { deleted: await deleteSecrets(db, a.resourceKey) };
    },
  };
}
