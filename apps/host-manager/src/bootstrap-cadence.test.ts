// The agent's cadence while it waits for its first files, against a Blob stand-in that never
// has them: quick checks within the bootstrap window, then only the regular interval; and each
// failure logged once, not once per check. (host-manager.test.ts starts Consul through a quick
// check against real Azurite.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { startHostManager, type HostManager } from './agent.js';
import type { HostConfig } from './config.js';

const work = mkdtempSync(join(tmpdir(), 'hcs-cadence-'));
let manager: HostManager | undefined;
afterEach(async () => {
  await manager?.stop();
  rmSync(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('checks quickly within the bootstrap window, then only on the regular interval', async () => {
  const reads: number[] = [];
  const config: HostConfig = {
    customData: {
      blob: { accountUrl: 'https://blob.invalid/', container: 'cluster-x', serverPrefix: 'servers/0/' },
      identity: { clientId: 'test-identity' },
      cluster: { name: 'cadence', datacenter: 'dc1', serverIndex: 0, zone: '1' },
    },
    instanceIp: '127.0.0.1',
    instanceName: 'cadence-server-0',
    dataDir: join(work, 'vm'),
    consulBinaries: {},
    syncIntervalSeconds: 3600,
    bootstrapSyncMs: 50,
    bootstrapWindowSeconds: 1,
    statusPort: 0,
  };
  const lines: string[] = [];
  manager = await startHostManager(
    config,
    {
      get: async () => {
        reads.push(Date.now());
        return undefined;
      },
    },
    (m) => lines.push(m),
  );
  await sleep(700);
  // Within the window: the first check at start and one every 50 ms after it.
  expect(reads.length).toBeGreaterThanOrEqual(5);
  await sleep(800);
  const afterWindow = reads.length;
  await sleep(1_000);
  // Past the window only the regular interval (an hour) is left: no check at all.
  expect(reads.length).toBe(afterWindow);
  expect(manager.status()).toMatchObject({
    state: 'error',
    lastError: expect.stringMatching(/^no manifest at servers\/0\/manifest\.json yet/),
  });
  expect(lines.filter((l) => l.startsWith('sync failed:'))).toEqual([expect.stringMatching(/^sync failed: no manifest/)]);
});
