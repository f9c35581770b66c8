// npm run audit:verify: checks the audit log's hash chain in the store HCS_DATABASE_URL (or
// HCS_DATABASE) names (audit-verify.ts); exit 0 with the row count, 1 naming the first bad row,
// 2 when it could not check.
import { runAuditVerify } from './audit-verify.js';

runAuditVerify(process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`audit:verify could not check the chain: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(2);
  },
);
