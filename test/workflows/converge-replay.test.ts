// Creates and scales that began before converge.ts ran its steps in parallel still replay: their
// recorded histories (a create, and a scale from 5 to 3 servers, recorded with the sequential
// workflow code of commit 69a683d and stand-in activities) replay against today's workflow code
// without a nondeterminism error, because `patched('converge-in-parallel')` is false for them
// (without that check the parallel steps' local activities meet the recorded activities and the
// replay fails).
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
// Stored as protobufjs objects (History.toObject: longs, enums and bytes as strings), read back
// the same way (the SDK's own JSON history reader needs another protobufjs than this install has).
const history = (name: string) =>
  proto.temporal.api.history.v1.History.fromObject(
    JSON.parse(readFileSync(fileURLToPath(new URL(`./histories/${name}.json`, import.meta.url)), 'utf8')) as object,
  );

describe('converge replays histories recorded before it ran steps in parallel', () => {
  for (const name of ['createCluster-sequential', 'scaleCluster-sequential'])
    it(`${name} replays`, async () => {
      await expect(Worker.runReplayHistory({ workflowsPath }, history(name), `replay-${name}`)).resolves.toBeUndefined();
    });
});
