// `npm run audit:verify` (audit-verify-main.ts), the operators' check of the audit log: which
// store it reads, and what it says. It walks the hash chain (store/audit-log.ts
// verifyAuditChain) and answers exit 0 with the number of rows, 1 naming the first row that breaks
// the chain, 2 when it could not check (no store named, none reachable).
import { z } from 'zod';
import type { DatabaseConfig } from '../../../store/database.js';
import { openDatabase } from '../../../store/database.js';
import { verifyAuditChain } from '../../../store/audit-log.js';
import { setting } from '../../../lib/settings.js';
import { parseEnv, workerEnvSchema } from './config.js';

/** The command's own setting (docs/configuration.md); else the processes' HCS_DATABASE. */
export const auditVerifyEnvSchema = z.object({
  HCS_DATABASE_URL: setting(
    z.string().optional(),
    'npm run audit:verify: the PostgreSQL store (postgres://...) whose audit log it checks; when unset, HCS_DATABASE',
  ),
});

/** The store the command reads, or a message saying why there is none. */
export function auditVerifyDatabase(env: NodeJS.ProcessEnv): DatabaseConfig | string {
  const { HCS_DATABASE_URL: url } = parseEnv(auditVerifyEnvSchema, env, {});
  if (url) return { kind: 'postgres', url };
  if (!env.HCS_DATABASE) return 'audit:verify: set HCS_DATABASE_URL to the store database (postgres://...), or HCS_DATABASE';
  return parseEnv(z.object({ HCS_DATABASE: workerEnvSchema.shape.HCS_DATABASE }), env, {}).HCS_DATABASE;
}

/** Runs the check; returns the exit code after printing its one line. */
export async function runAuditVerify(env: NodeJS.ProcessEnv): Promise<number> {
  let config: DatabaseConfig | string;
  try {
    config = auditVerifyDatabase(env);
  } catch (err) {
    config = err instanceof Error ? err.message : String(err);
  }
  if (typeof config === 'string') {
    console.error(config);
    return 2;
  }
  const db = await openDatabase(config);
  try {
    const result = await verifyAuditChain(db);
    if (result.ok) {
      console.log(
        `audit log chain intact: ${result.rows} rows` + (result.rows ? ` (sequence ${result.firstSeq} to ${result.lastSeq})` : ''),
      );
      return 0;
    }
    console.error(`audit log chain broken at row ${result.badSeq}: ${result.reason} (${result.rows} rows before it verified)`);
    return 1;
  } finally {
    await db.close();
  }
}
