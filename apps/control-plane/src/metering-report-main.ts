// `npm run metering:report -- --month YYYY-MM [--subscription <id>] [--json]`: the monthly
// reconciliation of metered against recorded server hours (metering-report.ts), read from the
// store HCS_DATABASE names. Reads only; exits 2 with a message on bad arguments or settings.
import { z } from 'zod';
import { openDatabase } from '../../../store/database.js';
import { parseEnv, workerEnvSchema } from './config.js';
import { formatReport, meteringReport, parseReportArgs } from './metering-report.js';

let args;
let database;
try {
  args = parseReportArgs(process.argv.slice(2));
  database = parseEnv(z.object({ HCS_DATABASE: workerEnvSchema.shape.HCS_DATABASE }), process.env, {}).HCS_DATABASE;
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
}
const db = await openDatabase(database);
try {
  const report = await meteringReport(db, { month: args.month, ...(args.subscriptionId ? { subscriptionId: args.subscriptionId } : {}) });
  console.log(args.json ? JSON.stringify(report, null, 2) : formatReport(report));
} finally {
  await db.close();
}
