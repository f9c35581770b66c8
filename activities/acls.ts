// A cluster's ACL system: bootstrapped with the management token we generated, the control
// plane's own tokens (agent, snapshot; a secondary's replication token) with their policies, and
// the customer's root token, rotated on request.
import { randomUUID } from 'node:crypto';
import { pendingRootTokenName, rootTokenResultName, SECRET, sealContext } from '../contract/secret-names.js';
import { CLUSTER_TOKENS, ROOT_TOKEN_NAME, type ControlPlaneToken } from '../domain/acl-policies.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { SqlExecutor } from '../store/database.js';
import { putSecret, putSecretIfAbsent } from '../store/secrets.js';
import { consulAccess, type ConsulAccessDeps, type LeaderProbe } from './consul-access.js';
import type { SecretReader } from './secrets.js';

/** The ACL calls of the Consul client. */
export interface AclConsul extends LeaderProbe {
  bootstrapAcl(managementToken: string): Promise<'bootstrapped' | 'already-bootstrapped'>;
  ensureToken(
    managementToken: string,
    a: { name: string; rules: string; accessorId: string; secretId: string; managementPolicy?: boolean },
  ): Promise<void>;
  deleteToken(managementToken: string, accessorId: string): Promise<void>;
}

/** A stored ACL token: its ids are fixed before Consul sees it, so a retry makes the same token. */
export interface StoredToken {
  accessorId: string;
  secretId: string;
}

/** The stored secret that holds each control-plane token. */
export const TOKEN_SECRET: Record<ControlPlaneToken['secret'], string> = {
  agent: SECRET.agentToken,
  snapshot: SECRET.snapshotToken,
  replication: SECRET.replicationToken,
};

/** Creates (or finds) the given control-plane tokens of `resourceKey` through `consul`. */
export async function ensureTokens(
  secrets: Pick<SecretReader, 'json'>,
  consul: Pick<AclConsul, 'ensureToken'>,
  managementToken: string,
  resourceKey: string,
  tokens: readonly ControlPlaneToken[],
): Promise<void> {
  for (const { name, secret, rules } of tokens) {
    const t = await secrets.json<StoredToken>(resourceKey, TOKEN_SECRET[secret]);
    await consul.ensureToken(managementToken, { name, rules, accessorId: t.accessorId, secretId: t.secretId });
  }
}

export type AclDeps = ConsulAccessDeps<AclConsul> & {
  db: SqlExecutor;
  secrets: SecretReader;
  /** Vault transit: encrypts what the store keeps. */
  cipher: { encrypt(plaintext: string): Promise<string> };
  /** Seals the documents the API hands out (rotated root tokens). */
  sealer: { seal(plaintext: string, context: string): string };
};

export function createAclActivities(deps: AclDeps) {
  const { db, secrets, cipher } = deps;
  const consul = consulAccess(deps);
  return {
    /** ACLs: bootstrapped (the initial management token), an agent token and our snapshot token. */
    async configureAcls(a: { plan: ClusterPlan; servers: ServerInfo[] }): Promise<{ bootstrap: string }> {
      const { admin, token } = await consul.admin(a.plan.resourceKey, a.servers);
      // A secondary's ACLs are the primary's (bootstrapped there); its token writes go to the primary.
      const bootstrap = a.plan.federation ? 'primary' : await admin.bootstrapAcl(token);
      await ensureTokens(secrets, admin, token, a.plan.resourceKey, CLUSTER_TOKENS);
      return { bootstrap };
    },

    /**
     * A new root (management) token for the customer; the previous one stops working. Its secret
     * is fixed before Consul sees it, so a retry creates the same token, never a second one.
     */
    async rotateRootToken(a: { plan: ClusterPlan; servers: ServerInfo[]; operationId: string }): Promise<{ accessorId: string }> {
      const key = a.plan.resourceKey;
      const pendingName = pendingRootTokenName(a.operationId);
      // The first writer wins: a retried attempt reads the token the first one fixed.
      await putSecretIfAbsent(
        db,
        key,
        pendingName,
        await cipher.encrypt(JSON.stringify({ accessorId: randomUUID(), secretId: randomUUID() })),
      );
      const pending = await secrets.json<StoredToken>(key, pendingName);
      const { admin, token } = await consul.admin(key, a.servers);
      await admin.ensureToken(token, {
        name: ROOT_TOKEN_NAME,
        rules: '',
        accessorId: pending.accessorId,
        secretId: pending.secretId,
        managementPolicy: true,
      });
      const previous = await secrets.textIfStored(key, SECRET.rootToken);
      if (previous !== undefined) {
        const old = JSON.parse(previous) as Pick<StoredToken, 'accessorId'>;
        if (old.accessorId !== pending.accessorId) await admin.deleteToken(token, old.accessorId);
      }
      await putSecret(db, key, SECRET.rootToken, await cipher.encrypt(JSON.stringify(pending)));
      const resultName = rootTokenResultName(a.operationId);
      await putSecret(db, key, resultName, deps.sealer.seal(JSON.stringify(pending), sealContext(key, resultName)));
      return { accessorId: pending.accessorId };
    },
  };
}
