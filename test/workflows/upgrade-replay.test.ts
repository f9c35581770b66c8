// The upgrade's wait for the maintenance window moved into workflows/maintenance-window.ts (shared
// with the server restart and repair): upgrades recorded before the move still replay. The history
// was recorded with the code before the move (commit 153f86e) and stand-in activities: a window
// twelve hours away, a defer signal, a force signal, one refused claim of the lock (waited out with
// the 15-second retry), then the snapshot and the three servers. It replays against today's code
// without a nondeterminism error.
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const history = proto.temporal.api.history.v1.History.fromObject(
  JSON.parse(readFileSync(fileURLToPath(new URL('./histories/upgradeCluster-window-wait.json', import.meta.url)), 'utf8')) as object,
);

it('an upgrade that waited for its window, was deferred and forced, and waited for the lock replays on the shared window code', async () => {
  await expect(Worker.runReplayHistory({ workflowsPath }, history, 'replay-upgrade-window-wait')).resolves.toBeUndefined();
});
