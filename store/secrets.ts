// Encrypted secrets by scope (a cluster's resource key, or CONTROL_PLANE_SCOPE) and name. The
// store only ever sees ciphertext; encrypting and decrypting is the caller's (Vault transit in
// the worker, the sealing key ring in the API).
import type { SqlExecutor } from './database.js';

export const CONTROL_PLANE_SCOPE = 'control-plane';

/** Stores the ciphertext unless the secret exists; returns what is stored (the first writer wins). */
export async function putSecretIfAbsent(db: SqlExecutor, scope: string, name: string, ciphertext: string): Promise<string> {
  await db.query('INSERT INTO cluster_secrets (scope, name, ciphertext) VALUES ($1, $2, $3) ON CONFLICT (scope, name) DO NOTHING', [
    scope,
    name,
    ciphertext,
  ]);
  const stored = await getSecret(db, scope, name);
  if (stored === undefined) throw new Error(`secret ${name} vanished right after it was written`);
  return stored;
}

/** Stores the ciphertext, replacing any earlier value (rotation). */
export async function putSecret(db: SqlExecutor, scope: string, name: string, ciphertext: string): Promise<void> {
  await db.query(
    `INSERT INTO cluster_secrets (scope, name, ciphertext) VALUES ($1, $2, $3)
     ON CONFLICT (scope, name) DO UPDATE SET ciphertext = EXCLUDED.ciphertext, updated_at = now()`,
    [scope, name, ciphertext],
  );
}

export async function getSecret(db: SqlExecutor, scope: string, name: string): Promise<string | undefined> {
  const res = await db.query<{ ciphertext: string }>('SELECT ciphertext FROM cluster_secrets WHERE scope = $1 AND name = $2', [
    scope,
    name,
  ]);
  return res.rows[0]?.ciphertext;
}

export async function listSecretNames(db: SqlExecutor, scope: string): Promise<string[]> {
  const res = await db.query<{ name: string }>('SELECT name FROM cluster_secrets WHERE scope = $1 ORDER BY name', [scope]);
  return res.rows.map((r) => r.name);
}

/** Removes every secret of the scope; returns how many there were. */
export async function deleteSecrets(db: SqlExecutor, scope: string): Promise<number> {
  const res = await db.query('DELETE FROM cluster_secrets WHERE scope = $1', [scope]);
  return res.rowCount;
}

/**
 * Removes the secret and returns it with the time it was written: a document that may be read
 * once (a new root token) is gone the moment it is read, whoever asks again.
 */
export async function takeSecret(
  db: SqlExecutor,
  scope: string,
  name: string,
): Promise<{ ciphertext: string; writtenAt: Date } | undefined> {
  const res = await db.query<{ ciphertext: string; updated_at: Date | string }>(
    'DELETE FROM cluster_secrets WHERE scope = $1 AND name = $2 RETURNING ciphertext, updated_at',
    [scope, name],
  );
  const r = res.rows[0];
  return r && { ciphertext: r.ciphertext, writtenAt: new Date(r.updated_at) };
}

/** Removes every secret whose name starts with the prefix and that was written before the cutoff. */
export async function deleteSecretsWrittenBefore(db: SqlExecutor, namePrefix: string, cutoff: Date): Promise<number> {
  const res = await db.query('DELETE FROM cluster_secrets WHERE starts_with(name, $1) AND updated_at < $2', [namePrefix, cutoff]);
  return res.rowCount;
}
