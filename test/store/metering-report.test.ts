// The monthly metering reconciliation on the real store, and the command that prints it
// (`npm run metering:report -- --month YYYY-MM`): per cluster and dimension, recorded server
// hours against metered ones, the difference, and what became of the rest (Expired, Rejected,
// still pending); bad arguments are refused with a precise message and exit code 2.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, inject, it } from 'vitest';
import { formatReport, meteringReport, parseReportArgs } from '../../apps/control-plane/src/metering-report.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import { recordMetering } from '../../store/metering.js';
import { clusterKey, HOUR, newSubscription, usagePeriod } from '../support/metering.js';
import { useStoreDatabase } from '../support/store-fixture.js';

const stack = inject('stack');
const db = useStoreDatabase();
const run = promisify(execFile);

/** A subscription with one cluster running 3 servers for 10 hours from Oct 31 14:00 to 24:00, and one with 1 server across Oct 31/Nov 1. */
async function october(): Promise<{ sub: string; big: string; small: string }> {
  const sub = await newSubscription(db());
  const big = clusterKey(sub, 'big');
  const small = clusterKey(sub, 'small');
  const start = Date.UTC(2026, 9, 31, 14);
  await usagePeriod(db(), big, 3, start, start + 10 * HOUR);
  await usagePeriod(db(), small, 1, Date.UTC(2026, 9, 31, 22), Date.UTC(2026, 10, 1, 3));
  const rec = (hourMs: number, status: 'Accepted' | 'Duplicate' | 'Expired' | 'Rejected') =>
    recordMetering(db(), {
      resourceKey: big,
      subscriptionId: sub,
      hour: new Date(hourMs),
      planId: 'standard',
      dimension: 'standard-server-hours',
      quantity: 3,
      status,
      ...(status === 'Expired' ? { detail: 'not accepted within 24 hours' } : { usageEventId: `id-${hourMs}` }),
    });
  // 6 hours accepted, 1 a duplicate of an accepted one, 2 expired, 1 rejected... and none left out.
  for (let h = 0; h < 6; h++) await rec(start + h * HOUR, 'Accepted');
  await rec(start + 6 * HOUR, 'Duplicate');
  await rec(start + 7 * HOUR, 'Expired');
  await rec(start + 8 * HOUR, 'Expired');
  await rec(start + 9 * HOUR, 'Rejected');
  return { sub, big, small };
}

it('reconciles a month: recorded against metered hours per cluster and dimension, expired, rejected and pending', async () => {
  const { sub, big, small } = await october();
  const report = await meteringReport(db(), { month: '2026-10', subscriptionId: sub, now: new Date(Date.UTC(2026, 11, 3)) });
  expect(report).toEqual({
    month: '2026-10',
    complete: true,
    lines: [
      {
        subscriptionId: sub,
        resourceId: big,
        dimension: 'standard-server-hours',
        recordedHours: 30,
        meteredHours: 21,
        differenceHours: 9,
        expiredHours: 6,
        rejectedHours: 3,
        pendingHours: 0,
      },
      // Only the two October hours of the period that runs into November; none was metered.
      {
        subscriptionId: sub,
        resourceId: small,
        dimension: 'development-server-hours',
        recordedHours: 2,
        meteredHours: 0,
        differenceHours: 2,
        expiredHours: 0,
        rejectedHours: 0,
        pendingHours: 2,
      },
    ],
    totals: { recordedHours: 32, meteredHours: 21, differenceHours: 11, expiredHours: 6, rejectedHours: 3, pendingHours: 2 },
  });
  const text = formatReport(report);
  expect(text).toContain('Marketplace metering, 2026-10 (UTC): server hours');
  expect(text).toMatch(/rg-meter\/big\s+standard-server-hours\s+30\.000\s+21\.000\s+9\.000\s+6\.000\s+3\.000\s+0\.000/);
  // A month still running says so, and counts up to now only.
  const running = await meteringReport(db(), { month: '2026-10', subscriptionId: sub, now: new Date(Date.UTC(2026, 9, 31, 19)) });
  expect(running.complete).toBe(false);
  expect(running.lines[0]).toMatchObject({ recordedHours: 15, meteredHours: 15 });
  expect(formatReport(running)).toContain('month in progress');
  // Another month knows nothing of it.
  expect((await meteringReport(db(), { month: '2026-09', subscriptionId: sub })).lines).toEqual([]);
});

it('npm run metering:report prints the report, and refuses bad arguments with exit code 2', async () => {
  const { sub } = await october();
  const env = { ...process.env, HCS_DATABASE: JSON.stringify(stack.database) };
  const npm = (args: string[]) => run('npm', ['run', '--silent', 'metering:report', '--', ...args], { cwd: repoRoot, env });
  const json = await npm(['--month', '2026-10', '--subscription', sub, '--json']);
  const report = JSON.parse(json.stdout) as { complete: boolean; totals: Record<string, number> };
  expect(report.complete).toBe(true);
  expect(report.totals).toMatchObject({ recordedHours: 32, meteredHours: 21, differenceHours: 11 });
  const text = await npm(['--month', '2026-10', '--subscription', sub]);
  expect(text.stdout).toMatch(/^total\s+32\.000\s+21\.000\s+11\.000\s+6\.000\s+3\.000\s+2\.000$/m);
  const failed = (await npm(['--month', '2026-13']).catch((err: unknown) => err)) as { code?: number; stderr?: string };
  expect(failed.code).toBe(2);
  expect(failed.stderr).toContain('--month must be YYYY-MM (got "2026-13")');

  for (const [args, message] of [
    [[], '--month is required'],
    [['--month'], '--month needs a value'],
    [['--month', 'October'], '--month must be YYYY-MM (got "October")'],
    [['--month', '2026-10', '--subscription', 'mine'], '--subscription must be a subscription id (a GUID)'],
    [['--month', '2026-10', '--all'], 'unknown argument "--all"'],
  ] as const)
    expect(() => parseReportArgs([...args]), args.join(' ')).toThrow(message);
}, 120_000);
