// Fleet simulation, benchmark only: one measuring window of bench/fleet-scale.ts. Between two
// minute boundaries it samples the worker's CPU and RSS and the databases' sizes; after a grace
// period for stragglers (and visibility's delay) it lists the firings whose nominal time fell in
// the window and compares them with the firings the fleet's phases call for. A firing that never
// started counts with the whole wait.
import type { Client } from '@temporalio/client';
import type { ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { listFirings, percentile } from './fleet-sim-measure.js';
import { expectedFirings } from './fleet-sim.js';
import type { SimWorkerUsage } from './fleet-sim-worker.js';

export interface WindowResult {
  expected: number;
  started: number;
  notCompleted: number;
  startLag: { p50: number; p99: number; max: number };
  closeLag: { p50: number; p99: number };
  /** Worker CPU over the window, as a share of one core (1 = a whole core). */
  cpu: number;
  rssMaxBytes: number;
  /** Growth over the window scaled to a day (bytes). */
  temporalPerDay: number;
  storePerDay: number;
}

export function workerUsage(worker: ChildProcess): Promise<SimWorkerUsage> {
  return new Promise((resolve) => {
    worker.once('message', (m) => resolve(m as SimWorkerUsage));
    worker.send('usage');
  });
}

export async function measureWindow(o: {
  client: Client;
  worker: ChildProcess;
  windowSeconds: number;
  /** Each cluster's snapshot second within the hour (certificate checks half an hour later). */
  phases: Iterable<number>;
  sizes: () => Promise<{ temporal: number; store: number }>;
  graceSeconds?: number;
}): Promise<WindowResult> {
  // From the next minute boundary: the fleet design's slots are minutes.
  const from = Math.ceil((Date.now() + 5_000) / 60_000) * 60_000;
  await delay(from - Date.now());
  const until = from + o.windowSeconds * 1000;
  const sizeBefore = await o.sizes();
  const before = await workerUsage(o.worker);
  let rss = before.rssBytes;
  while (Date.now() < until) {
    await delay(Math.min(5_000, Math.max(0, until - Date.now())));
    rss = Math.max(rss, (await workerUsage(o.worker)).rssBytes);
  }
  const after = await workerUsage(o.worker);
  const sizeAfter = await o.sizes();
  await delay((o.graceSeconds ?? 30) * 1000);
  const firings = await listFirings(o.client, from, until);
  const expected = expectedFirings(o.phases, from / 1000, until / 1000);
  const startLags = firings.map((f) => f.startLagMs / 1000);
  const waited = (Date.now() - from) / 1000;
  for (let m = firings.length; m < expected; m++) startLags.push(waited);
  const closeLags = firings.map((f) => (f.closeLagMs ?? Date.now() - f.nominal) / 1000);
  const perDay = (b: number, a: number) => ((a - b) / (o.windowSeconds * 1000)) * 86_400_000;
  return {
    expected,
    started: firings.length,
    notCompleted: firings.filter((f) => f.status !== 'COMPLETED').length,
    startLag: { p50: percentile(startLags, 50), p99: percentile(startLags, 99), max: percentile(startLags, 100) },
    closeLag: { p50: percentile(closeLags, 50), p99: percentile(closeLags, 99) },
    cpu: (after.cpuMicros - before.cpuMicros) / 1000 / (after.at - before.at),
    rssMaxBytes: rss,
    temporalPerDay: perDay(sizeBefore.temporal, sizeAfter.temporal),
    storePerDay: perDay(sizeBefore.store, sizeAfter.store),
  };
}
