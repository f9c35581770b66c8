// The monthly Marketplace reconciliation (`npm run metering:report -- --month YYYY-MM`): per
// cluster and dimension, the server hours cluster_usage recorded in the month (UTC) against the
// hours the Marketplace accepted (Accepted or Duplicate), their difference, and what became of
// the rest: Expired (never accepted within 24 hours, or not sent for a Suspended or Deleted
// subscription), Rejected, or still to be sent (pending).
import { roundQuantity } from '../../../domain/metering.js';
import type { SqlExecutor } from '../../../store/database.js';
import { meteringReconciliation } from '../../../store/metering.js';

export interface ReportArgs {
  month: string;
  subscriptionId?: string;
  json: boolean;
}

export interface ReportLine {
  subscriptionId: string;
  resourceId: string;
  dimension: string;
  recordedHours: number;
  meteredHours: number;
  /** recorded - metered */
  differenceHours: number;
  expiredHours: number;
  rejectedHours: number;
  /** recorded - metered - expired - rejected: not settled yet (the current hours, or an outage). */
  pendingHours: number;
}

export interface MeteringReport {
  month: string;
  /** The month is over: its figures no longer grow. */
  complete: boolean;
  lines: ReportLine[];
  totals: Omit<ReportLine, 'subscriptionId' | 'resourceId' | 'dimension'>;
}

const USAGE = 'usage: npm run metering:report -- --month YYYY-MM [--subscription <id>] [--json]';

/** The command line's arguments, or an error naming what is wrong. */
export function parseReportArgs(argv: string[]): ReportArgs {
  const args: Partial<ReportArgs> = { json: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new Error(`${a} needs a value; ${USAGE}`);
      return v;
    };
    if (a === '--month') args.month = value();
    else if (a === '--subscription') args.subscriptionId = value();
    else if (a === '--json') args.json = true;
    else throw new Error(`unknown argument ${JSON.stringify(a.slice(0, 40))}; ${USAGE}`);
  }
  if (!args.month) throw new Error(`--month is required; ${USAGE}`);
  const m = /^(\d{4})-(\d{2})$/.exec(args.month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12)
    throw new Error(`--month must be YYYY-MM (got ${JSON.stringify(args.month.slice(0, 20))})`);
  if (args.subscriptionId !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(args.subscriptionId))
    throw new Error(`--subscription must be a subscription id (a GUID)`);
  return args as ReportArgs;
}

/** The reconciliation of one calendar month (UTC), up to `now` while the month runs. */
export async function meteringReport(db: SqlExecutor, a: { month: string; subscriptionId?: string; now?: Date }): Promise<MeteringReport> {
  const [year, month] = a.month.split('-').map(Number) as [number, number];
  const from = new Date(Date.UTC(year, month - 1, 1));
  const end = new Date(Date.UTC(year, month, 1));
  const now = a.now ?? new Date();
  const to = now < end ? now : end;
  const rows =
    to > from ? await meteringReconciliation(db, { from, to, ...(a.subscriptionId ? { subscriptionId: a.subscriptionId } : {}) }) : [];
  const lines = rows.map((r): ReportLine => {
    const recorded = roundQuantity(r.recordedHours);
    const metered = roundQuantity(r.meteredHours);
    return {
      subscriptionId: r.subscriptionId,
      resourceId: r.resourceKey,
      dimension: r.dimension,
      recordedHours: recorded,
      meteredHours: metered,
      differenceHours: roundQuantity(recorded - metered),
      expiredHours: roundQuantity(r.expiredHours),
      rejectedHours: roundQuantity(r.rejectedHours),
      pendingHours: roundQuantity(recorded - metered - r.expiredHours - r.rejectedHours),
    };
  });
  const sum = (k: keyof MeteringReport['totals']) => roundQuantity(lines.reduce((s, l) => s + l[k], 0));
  return {
    month: a.month,
    complete: now >= end,
    lines,
    totals: {
      recordedHours: sum('recordedHours'),
      meteredHours: sum('meteredHours'),
      differenceHours: sum('differenceHours'),
      expiredHours: sum('expiredHours'),
      rejectedHours: sum('rejectedHours'),
      pendingHours: sum('pendingHours'),
    },
  };
}

/** The report as a plain-text table. */
export function formatReport(r: MeteringReport): string {
  const head = ['subscription', 'cluster', 'dimension', 'recorded', 'metered', 'difference', 'expired', 'rejected', 'pending'];
  const n = (x: number) => x.toFixed(3);
  const cluster = (id: string) => id.split('/').slice(-1)[0] ?? id;
  const rows = r.lines.map((l) => [
    l.subscriptionId,
    `${l.resourceId.split('/')[4] ?? ''}/${cluster(l.resourceId)}`,
    l.dimension,
    n(l.recordedHours),
    n(l.meteredHours),
    n(l.differenceHours),
    n(l.expiredHours),
    n(l.rejectedHours),
    n(l.pendingHours),
  ]);
  const t = r.totals;
  rows.push([
    'total',
    '',
    '',
    n(t.recordedHours),
    n(t.meteredHours),
    n(t.differenceHours),
    n(t.expiredHours),
    n(t.rejectedHours),
    n(t.pendingHours),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [
    `Marketplace metering, ${r.month} (UTC)${r.complete ? '' : ', month in progress'}: server hours`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
