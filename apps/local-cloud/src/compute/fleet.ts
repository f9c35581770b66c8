// Keeps instance processes in their desired power state. An instance that should run and whose
// process dies is started again - as Azure restarts a VM whose host failed - with exponential
// backoff (0.5 s doubling to 30 s, reset once it has stayed up for 30 s) so a crash-looping
// program does not spin. Restart, reimage and delete go through here too.
import { setTimeout as delay } from 'node:timers/promises';
import type { InstanceProcess, InstanceRunner, InstanceSpec } from './runner.js';

export interface FleetOptions {
  runner: InstanceRunner;
  /** A process must stay alive this long after spawning to count as started (default 200 ms). */
  settleMs?: number;
  maxBackoffMs?: number;
  onEvent: (message: string) => void;
}

interface Entry {
  key: string;
  desired: 'running' | 'stopped';
  spec: () => InstanceSpec;
  proc?: InstanceProcess;
  starting?: Promise<void>;
  timer?: NodeJS.Timeout;
  failures: number;
  startedAt: number;
  restarts: number;
}

const STABLE_MS = 30_000;

export class Fleet {
  readonly #entries = new Map<string, Entry>();
  /** Instances broken for good (test-only fault injection): their process is gone and nothing starts them. */
  readonly #broken = new Set<string>();
  #closed = false;

  constructor(private readonly o: FleetOptions) {}

  /** Makes the instance run (starting it if needed); resolves once its process has started. */
  async run(key: string, spec: () => InstanceSpec): Promise<void> {
    const e = this.#entry(key, spec);
    e.spec = spec;
    e.desired = 'running';
    if (e.proc) return;
    clearTimeout(e.timer);
    await this.#launch(e, 3);
  }

  /** Stops the instance and keeps it stopped (power off). */
  async halt(key: string): Promise<void> {
    const e = this.#entries.get(key);
    if (!e) return;
    e.desired = 'stopped';
    clearTimeout(e.timer);
    await e.starting?.catch(() => {});
    const proc = e.proc;
    e.proc = undefined;
    await proc?.stop();
  }

  /** Stops and forgets the instance (delete). */
  async remove(key: string): Promise<void> {
    await this.halt(key);
    this.#entries.delete(key);
  }

  /**
   * Test-only fault: the instance's process is killed and every start (the fleet's own restarts,
   * a restart or start action) is refused until `mend` (a reimage or delete) - a VM whose host
   * failed for good.
   */
  async breakInstance(key: string): Promise<void> {
    this.#broken.add(key);
    const e = this.#entries.get(key);
    if (!e) return;
    clearTimeout(e.timer);
    await e.starting?.catch(() => {});
    const proc = e.proc;
    e.proc = undefined;
    await proc?.stop();
  }

  /** Ends `breakInstance` (a fresh disk, or the instance gone). */
  mend(key: string): void {
    this.#broken.delete(key);
  }

  broken(): string[] {
    return [...this.#broken];
  }

  /** running: process up; starting: should run but is between processes; stopped: powered off or unknown. */
  state(key: string): 'running' | 'starting' | 'stopped' {
    const e = this.#entries.get(key);
    if (!e || e.desired === 'stopped') return 'stopped';
    return e.proc ? 'running' : 'starting';
  }

  pid(key: string): number | undefined {
    return this.#entries.get(key)?.proc?.pid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#entries.keys()].map((k) => this.halt(k)));
    await this.o.runner.close?.();
  }

  #entry(key: string, spec: () => InstanceSpec): Entry {
    let e = this.#entries.get(key);
    if (!e) {
      e = { key, desired: 'running', spec, failures: 0, startedAt: 0, restarts: 0 };
      this.#entries.set(key, e);
    }
    return e;
  }

  // One launch at a time per instance; `attempts` > 1 retries a process that dies while settling.
  async #launch(e: Entry, attempts: number): Promise<void> {
    if (e.starting) return e.starting;
    e.starting = (async () => {
      let lastError = '';
      for (let i = 0; i < attempts; i++) {
        if (this.#closed || e.desired !== 'running') return;
        try {
          if (this.#broken.has(e.key)) throw new Error('its host refuses to start it (injected fault: broken for good)');
          const proc = await this.o.runner.start(e.spec());
          let exitedEarly: string | undefined;
          void proc.exited.then((why) => (exitedEarly = why));
          await delay(this.o.settleMs ?? 200);
          if (exitedEarly !== undefined) throw new Error(`the process exited at once (${exitedEarly})`);
          e.proc = proc;
          e.startedAt = Date.now();
          void proc.exited.then((why) => this.#onExit(e, proc, why));
          if (this.#closed || e.desired !== 'running') {
            e.proc = undefined;
            await proc.stop();
          }
          return;
        } catch (err) {
          lastError = err instanceof Error ? err.message : String(err);
          await delay(this.#backoff(i + 1));
        }
      }
      e.failures++;
      this.#scheduleRestart(e);
      throw new Error(`instance ${e.key} did not start: ${lastError}`);
    })();
    try {
      await e.starting;
    } finally {
      e.starting = undefined;
    }
  }

  #onExit(e: Entry, proc: InstanceProcess, why: string): void {
    if (e.proc !== proc) return; // stopped on purpose, or replaced
    e.proc = undefined;
    if (this.#closed || e.desired !== 'running') return;
    e.failures = Date.now() - e.startedAt > STABLE_MS ? 1 : e.failures + 1;
    this.o.onEvent(`instance ${e.key} (pid ${proc.pid}) exited (${why}); restarting`);
    this.#scheduleRestart(e);
  }

  #scheduleRestart(e: Entry): void {
    clearTimeout(e.timer);
    if (this.#closed || e.desired !== 'running') return;
    e.timer = setTimeout(() => {
      e.restarts++;
      this.#launch(e, 1).catch((err: unknown) => {
        this.o.onEvent(`instance ${e.key}: ${err instanceof Error ? err.message : String(err)}`);
      });
    }, this.#backoff(e.failures));
    e.timer.unref();
  }

  #backoff(failures: number): number {
    return Math.min(this.o.maxBackoffMs ?? 30_000, 500 * 2 ** Math.max(0, failures - 1));
  }
}
