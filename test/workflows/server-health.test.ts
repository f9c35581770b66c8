// The server health check's workflow on the real Temporal server with a stand-in of its activity:
// it runs a round every `everySeconds`, hands each round what the previous one remembered (since
// when each server is down), and a round that fails does not end it - the next round gets what
// the last good round returned.
import { randomUUID } from 'node:crypto';
import { expect, inject, it } from 'vitest';
import type { DownSince, HealthCheckOutcome } from '../../activities/server-health.js';
import { useTemporalClient, useWorkflowWorker } from '../support/control-plane-fixture.js';

const stack = inject('stack');
const taskQueue = `server-health-logic-${randomUUID()}`;
const rounds: Array<{ downSince: DownSince; repairAfterSeconds: number }> = [];

useWorkflowWorker(stack, taskQueue, () => ({
  checkServers: async (a: { downSince: DownSince; repairAfterSeconds: number }): Promise<HealthCheckOutcome> => {
    rounds.push(a);
    // The second round fails every attempt its retry policy allows (5: the store away for a
    // while); the other rounds each remember one more down server.
    if (rounds.length >= 2 && rounds.length <= 6) throw new Error('the store is not reachable');
    return { downSince: { '/c': { ...a.downSince['/c'], [String(rounds.length)]: `t${rounds.length}` } }, started: [] };
  },
}));
const client = useTemporalClient(stack);

it('runs a round every interval, carrying what each round remembered into the next, past a failed round', async () => {
  const handle = await client.workflow.start('fleetServerHealth', {
    taskQueue,
    workflowId: `server-health-${randomUUID()}`,
    args: [{ everySeconds: 1, repairAfterSeconds: 42 }],
  });
  await expect.poll(() => rounds.length, { timeout: 100_000, interval: 200 }).toBeGreaterThanOrEqual(8);
  await handle.terminate('test over');
  expect(rounds[0]).toEqual({ downSince: {}, repairAfterSeconds: 42 });
  // Attempts 2-6 are the failed round: each got what round 1 remembered.
  for (const r of rounds.slice(1, 6)) expect(r.downSince).toEqual({ '/c': { '1': 't1' } });
  // The round after the failed one still gets it, and the one after that builds on it.
  expect(rounds[6]!.downSince).toEqual({ '/c': { '1': 't1' } });
  expect(rounds[7]!.downSince).toEqual({ '/c': { '1': 't1', '7': 't7' } });
}, 150_000);
