// What the chaos and soak scripts share (they run with tsx, outside vitest): a control plane
// whose worker is a process of its own (the runs SIGKILL it), taken down with the script when the
// script is stopped from outside; and the report a run prints line by line and writes at its end.
import type { ParsedLifecycleConfig } from '../../apps/worker/src/lifecycle-config.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { WorkerProcess, type WorkerProcessOptions } from './worker-process.js';

/**
 * The API in this process and the worker as a process of its own (not started yet: `worker.start()`),
 * both with `config`. SIGTERM or SIGINT stops the worker and exits 1.
 */
export async function startWithWorkerProcess(
  stack: StackEndpoints,
  config: ParsedLifecycleConfig,
  o: Pick<WorkerProcessOptions, 'logName' | 'onUnexpectedExit'>,
): Promise<{ cp: ControlPlane; worker: WorkerProcess }> {
  const started: { worker?: WorkerProcess } = {};
  // Stopped from outside: take the worker down with us.
  for (const signal of ['SIGTERM', 'SIGINT'] as const)
    process.once(signal, () => {
      started.worker?.stop();
      process.exit(1);
    });
  const cp = await startControlPlane(stack, { externalWorker: true, lifecycle: config });
  const worker = new WorkerProcess({ stack, cp, config, ...o });
  started.worker = worker;
  return { cp, worker };
}

/** The run's report: `log` prints a line and keeps it in `lines` for the results file. */
export function reportLines(): { lines: string[]; log: (line: string) => void } {
  const lines: string[] = [];
  return {
    lines,
    log(line) {
      console.log(line);
      lines.push(line);
    },
  };
}
