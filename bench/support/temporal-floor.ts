// The Temporal server's own overhead on this machine, under the same load: workflows whose
// activities do nothing (floor-workflow.ts: one activity, or a create's shape), started by a
// client that waits for the result, on a worker of its own in this process. Their total minus the
// activities' time (Started to Completed in the history) is what starting a workflow and
// dispatching its activities costs before any of our code.
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { historyIntervals, unionMs } from './activity-time.js';

/**
 * The overhead (ms) of each of `runs` workflows of `workflowType` (floor-workflow.ts; default the
 * one-activity one), one after the other (and more while `beside` has not ended).
 */
export async function temporalFloorMs(o: {
  address: string;
  namespace: string;
  client: Client;
  runs: number;
  /**
   * Work started once the worker is up; the runs go on past `runs` until it has ended (the floor
   * measured while a create runs beside it).
   */
  beside?: () => Promise<unknown>;
  workflowType?: 'floorWorkflow' | 'createShapeFloorWorkflow';
  /** Given each run's history (bench:create sums its waits). */
  onHistory?: (events: Parameters<typeof historyIntervals>[0]) => void;
}): Promise<number[]> {
  const taskQueue = `bench-floor-${randomUUID()}`;
  const connection = await NativeConnection.connect({ address: o.address });
  const worker = await Worker.create({
    connection,
    namespace: o.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./floor-workflow.ts', import.meta.url)),
    activities: { noop: async () => {} },
  });
  const overheads: number[] = [];
  try {
    await worker.runUntil(async () => {
      let settled = !o.beside;
      let failure: Error | undefined;
      const beside = o.beside?.().then(
        () => void (settled = true),
        (err: unknown) =>
          void ((settled = true), (failure = err instanceof Error ? err : new Error(`the work beside the floor failed: ${String(err)}`))),
      );
      for (let i = 0; i < o.runs || !settled; i++) {
        const started = performance.now();
        const handle = await o.client.workflow.start(o.workflowType ?? 'floorWorkflow', { taskQueue, workflowId: `${taskQueue}-${i}` });
        await handle.result();
        const total = performance.now() - started;
        const history = await handle.fetchHistory();
        overheads.push(total - unionMs(historyIntervals(history.events ?? [])));
        o.onHistory?.(history.events ?? []);
      }
      await beside;
      if (failure) throw failure;
    });
  } finally {
    await connection.close();
  }
  return overheads;
}
