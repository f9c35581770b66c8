// Reading a cluster's stored secrets: fetch the transit-encrypted value from the store, decrypt it
// with Vault, parse it. One place, so a missing secret always fails the same way (SecretMissing,
// with its hint) and no caller handles ciphertext itself.
import { workerFailure } from '../contract/errors.js';
import type { SqlExecutor } from '../store/database.js';
import { getSecret } from '../store/secrets.js';

export interface SecretReaderDeps {
  db: SqlExecutor;
  /** Vault transit: decrypts what the store holds. */
  cipher: { decrypt(ciphertext: string): Promise<string> };
}

export interface SecretReader {
  /** The decrypted secret; SecretMissing when it was never stored. */
  text(scope: string, name: string): Promise<string>;
  /** The decrypted secret, or undefined when it was never stored (for secrets that may not exist yet). */
  textIfStored(scope: string, name: string): Promise<string | undefined>;
  /** The decrypted secret, parsed as JSON. */
  json<T>(scope: string, name: string): Promise<T>;
  /** An ACL token's secret id (secrets stored as `{ accessorId, secretId }`). */
  tokenSecretId(scope: string, name: string): Promise<string>;
}

export function secretReader({ db, cipher }: SecretReaderDeps): SecretReader {
  const text = async (scope: string, name: string): Promise<string> => {
    const stored = await getSecret(db, scope, name);
    if (stored === undefined) throw workerFailure('SecretMissing', `the cluster has no ${name}; it was never generated`);
    return cipher.decrypt(stored);
  };
  const textIfStored = async (scope: string, name: string): Promise<string | undefined> => {
    const stored = await getSecret(db, scope, name);
    return stored === undefined ? undefined : cipher.decrypt(stored);
  };
  const json = async <T>(scope: string, name: string): Promise<T> => JSON.parse(await text(scope, name)) as T;
  return {
    text,
    textIfStored,
    json,
    tokenSecretId: async (scope, name) => (await json<{ secretId: string }>(scope, name)).secretId,
  };
}
