// Server-hour metering on the real store database: periods open and close as the server count
// changes, repeating a count changes nothing, and sums are clipped to the asked range.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import { useStoreDatabase } from '../support/store-fixture.js';
import { recordServerCount, serverHours } from '../../store/usage.js';

const database = useStoreDatabase();

const H = 3_600_000;

it('sums server hours over periods, clipped to the range', async () => {
  const key = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/meter`;
  const t0 = new Date(Date.UTC(2026, 10, 1, 0, 0, 0));
  await recordServerCount(database(), key, 'sub', 3, t0);
  await recordServerCount(database(), key, 'sub', 3, new Date(t0.getTime() + 0.5 * H)); // unchanged: no new period
  await recordServerCount(database(), key, 'sub', 5, new Date(t0.getTime() + H));
  await recordServerCount(database(), key, 'sub', 0, new Date(t0.getTime() + 3 * H));
  const rows = await database().query('SELECT server_count FROM cluster_usage WHERE resource_id = $1 ORDER BY started_at', [key]);
  expect(rows.rows).toEqual([{ server_count: 3 }, { server_count: 5 }]);
  expect(await serverHours(database(), key, t0, new Date(t0.getTime() + 4 * H))).toBeCloseTo(13, 6);
  expect(await serverHours(database(), key, new Date(t0.getTime() + 0.5 * H), new Date(t0.getTime() + 1.5 * H))).toBeCloseTo(4, 6);
  expect(await serverHours(database(), key, new Date(t0.getTime() + 5 * H), new Date(t0.getTime() + 6 * H))).toBe(0);
});

it('an open period counts up to the end of the range', async () => {
  const key = `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/open`;
  const t0 = new Date(Date.UTC(2026, 10, 2, 0, 0, 0));
  await recordServerCount(database(), key, 'sub', 1, t0);
  expect(await serverHours(database(), key, t0, new Date(t0.getTime() + 2 * H))).toBeCloseTo(2, 6);
});
