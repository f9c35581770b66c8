// The agent's restart back-off: an agent that keeps dying at once waits longer each time (1 s,
// 2 s, ... 30 s), and one that ran stably before it died starts over at 1 s instead of waiting
// the longest delay an old crash loop left behind. A stand-in "consul" (a shell script that
// exits) is enough: only the process handling is under test.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ConsulProcess, restartBackoff } from './consul-process.js';

it('doubles the delay up to 30 s and starts over after a stable run', () => {
  let restarts = 0;
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    const next = restartBackoff(restarts, 100, 60_000);
    delays.push(next.delayMs);
    restarts = next.restarts;
  }
  expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  expect(restartBackoff(restarts, 60_000, 60_000)).toEqual({ delayMs: 1_000, restarts: 1 });
  expect(restartBackoff(restarts, 59_999, 60_000).delayMs).toBe(30_000);
});

const work = mkdtempSync(join(tmpdir(), 'hcs-consul-backoff-'));
let proc: ConsulProcess | undefined;
afterAll(async () => {
  await proc?.stop();
  rmSync(work, { recursive: true, force: true });
});

it('a real child that ran longer than stableAfterMs is restarted after 1 s every time', async () => {
  const script = join(work, 'consul');
  // Runs 400 ms, then fails: longer than the 200 ms this test calls stable.
  writeFileSync(script, '#!/bin/sh\nsleep 0.4\nexit 1\n');
  chmodSync(script, 0o755);
  const events: string[] = [];
  proc = new ConsulProcess({
    configDir: work,
    workDir: work,
    logFile: join(work, 'log'),
    stableAfterMs: 200,
    onEvent: (e) => events.push(e),
  });
  await proc.ensure('v', script);
  const deadline = Date.now() + 10_000;
  while (events.filter((e) => e.includes('restarting in')).length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const delays = events.filter((e) => e.includes('restarting in')).map((e) => Number(/restarting in (\d+) ms/.exec(e)![1]));
  expect(delays.slice(0, 3)).toEqual([1_000, 1_000, 1_000]);
});
