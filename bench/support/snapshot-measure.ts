// What the snapshot benchmark measures of one step: wall time, this process's RSS before and at
// its peak (sampled every 50 ms from a collected heap) and the longest event-loop stall (what
// would delay an activity's heartbeats), plus small stream helpers for the raw baselines.
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Readable, Writable } from 'node:stream';

export interface Measured<T> {
  ms: number;
  rssBefore: number;
  rssPeak: number;
  /** The longest event-loop delay seen while the step ran (ms). */
  stallMs: number;
  value: T;
}

/** Runs fn once and measures it (see the file header). */
export async function measure<T>(fn: () => Promise<T>): Promise<Measured<T>> {
  (globalThis as { gc?: () => void }).gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 50);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const t0 = performance.now();
  try {
    const value = await fn();
    const ms = performance.now() - t0;
    return { ms, rssBefore, rssPeak: Math.max(rssPeak, process.memoryUsage().rss), stallMs: delay.max / 1e6, value };
  } finally {
    delay.disable();
    clearInterval(sampler);
  }
}

/** The median of some numbers (the middle one, or the mean of the middle two). */
export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** `total` bytes from a random 4 MiB pattern, in 1 MiB chunks: what a raw upload sends. */
export function patternStream(total: number): Readable {
  const pattern = randomBytes(4 * 1024 * 1024);
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(1024 * 1024, total - sent);
      const offset = sent % pattern.length;
      this.push(offset + n <= pattern.length ? pattern.subarray(offset, offset + n) : pattern.subarray(0, n));
      sent += n;
    },
  });
}

/** A sink that counts what it is given. */
export function countingSink(): Writable & { bytes: number } {
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      sink.bytes += c.length;
      cb();
    },
  }) as Writable & { bytes: number };
  sink.bytes = 0;
  return sink;
}
