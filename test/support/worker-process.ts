// The worker as a process of its own, for chaos and soak runs that SIGKILL it: started with the
// control plane's task queue, store, payload keys (their file) and lifecycle configuration (secrets as files), its output
// appended to a log file. Optionally started again when it exits on its own.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { join } from 'node:path';
import type { ParsedLifecycleConfig } from '../../apps/worker/src/lifecycle-config.js';
import type { StackEndpoints } from '../../devstack/stack.js';
import { repoRoot } from '../../scripts/toolchain.mjs';
import type { ControlPlane } from '../api/harness.js';

export interface WorkerProcessOptions {
  stack: StackEndpoints;
  cp: ControlPlane;
  config: ParsedLifecycleConfig;
  /** File name in the stack's log folder. */
  logName: string;
  /** Called when the worker exits without being killed or stopped here; `restart` starts it again in 2 s. */
  onUnexpectedExit?: (how: string) => 'restart' | 'leave';
}

export class WorkerProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  /** Processes killed here on purpose: their exit is expected. */
  private readonly killed = new WeakSet<ChildProcess>();
  private readonly log: number;

  constructor(private readonly o: WorkerProcessOptions) {
    this.log = openSync(join(o.stack.logDir, o.logName), 'a');
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    const { stack, cp, config } = this.o;
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'apps', 'control-plane', 'src', 'worker-main.ts')], {
      stdio: ['ignore', this.log, this.log],
      env: {
        ...process.env,
        HCS_TEMPORAL_ADDRESS: stack.temporal.address,
        HCS_TEMPORAL_NAMESPACE: stack.temporal.namespace,
        HCS_TASK_QUEUE: cp.taskQueue,
        HCS_DATABASE: JSON.stringify(stack.database),
        HCS_CONSUL_CATALOGUE: '[]',
        HCS_PAYLOAD_KEYS_FILE: cp.payloadKeysFile,
        HCS_LIFECYCLE: JSON.stringify(config),
        HCS_LOG_LEVEL: 'warn',
      },
    });
    this.child = child;
    child.once('exit', (code, signal) => {
      if (this.stopping || this.child !== child || this.killed.has(child)) return;
      if (this.o.onUnexpectedExit?.(String(signal ?? code)) === 'restart')
        setTimeout(() => {
          if (!this.stopping) this.start();
        }, 2_000);
    });
  }

  /** SIGKILL, as a crashed VM would; resolves once it has exited. Not started again here. */
  async kill(): Promise<boolean> {
    const child = this.child;
    if (!child || !this.running) return false;
    this.killed.add(child);
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    return true;
  }

  /** Kills it for good (end of the run, or the run being stopped). */
  stop(): void {
    this.stopping = true;
    this.child?.kill('SIGKILL');
  }
}
