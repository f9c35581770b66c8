// The Consul agent as a child process: started with a given binary, reloaded with SIGHUP (Consul
// re-reads its configuration and certificates without dropping out of the cluster), replaced
// when the version changes, and restarted with back-off when it dies, as systemd's
// Restart=on-failure would: an agent that left the cluster gracefully (a scale-down's
// PUT /v1/agent/leave; Consul then exits 0) stays down until the VM restarts. Started again, it
// would rejoin the cluster it left, and raft would count it as a voter again just before its VM
// is deleted.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isProcessAlive } from '../../../lib/processes.js';

export interface ConsulProcessOptions {
  configDir: string;
  workDir: string;
  logFile: string;
  onEvent?: (event: string) => void;
  /** An agent that ran this long before it exited was healthy: its restart back-off starts over (default 60 s). */
  stableAfterMs?: number;
}

/** The wait before restarting an agent that exited, and the restart count to keep: doubling from 1 s to 30 s, from 1 s again after a stable run. */
export function restartBackoff(restarts: number, ranMs: number, stableAfterMs: number): { delayMs: number; restarts: number } {
  const n = ranMs >= stableAfterMs ? 0 : restarts;
  return { delayMs: Math.min(1_000 * 2 ** n, 30_000), restarts: n + 1 };
}

export class ConsulProcess {
  #child: ChildProcess | undefined;
  #binary: string | undefined;
  #version: string | undefined;
  #stopping = false;
  #restarts = 0;
  #restartTimer: NodeJS.Timeout | undefined;
  #left = false;

  constructor(private readonly o: ConsulProcessOptions) {}

  get #pidFile(): string {
    return join(this.o.workDir, 'consul.pid');
  }

  /**
   * A host-manager that crashed (and was restarted by systemd, say) left its Consul running,
   * which would hold the ports the new one needs: stop it first. Only a process that really is
   * a Consul agent on our config folder is touched (pids get reused).
   */
  async #stopOrphan(): Promise<void> {
    let pid = 0;
    try {
      pid = Number(readFileSync(this.#pidFile, 'utf8'));
    } catch {
      return;
    }
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // gone already
    }
    if (pid > 0 && cmdline.split('\0').includes(`-config-dir=${this.o.configDir}`)) {
      this.o.onEvent?.(`stopping the Consul a previous host-manager left running (pid ${pid})`);
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 150 && isProcessAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    }
    rmSync(this.#pidFile, { force: true });
  }

  get version(): string | undefined {
    return this.#version;
  }
  get pid(): number | undefined {
    return this.#child?.pid;
  }
  /** The agent left its cluster and exited 0: it is not started again by this process. */
  get left(): boolean {
    return this.#left;
  }
  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Runs `binary` (version `version`); replaces a running agent of another version. Nothing once the agent has left. */
  async ensure(version: string, binary: string): Promise<'started' | 'replaced' | 'unchanged'> {
    if (this.#left || (this.running && this.#version === version)) return 'unchanged';
    if (!this.#child) await this.#stopOrphan();
    const replacing = this.running;
    if (replacing) await this.stop();
    // A restart the exit handler scheduled would start a second agent beside this one.
    clearTimeout(this.#restartTimer);
    this.#stopping = false;
    this.#binary = binary;
    this.#version = version;
    this.#spawn();
    return replacing ? 'replaced' : 'started';
  }

  /** Asks Consul to re-read its configuration and certificates. */
  reload(): void {
    if (this.running) {
      this.#child!.kill('SIGHUP');
      this.o.onEvent?.('consul reloaded (SIGHUP)');
    }
  }

  async stop(timeoutMs = 15_000): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
    const child = this.#child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  }

  #spawn(): void {
    const fd = openSync(this.o.logFile, 'a');
    // cwd is the agent's folder, so the control plane's config can name files relative to it.
    const child = spawn(this.#binary!, ['agent', `-config-dir=${this.o.configDir}`], { cwd: this.o.workDir, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    this.#child = child;
    const startedAt = Date.now();
    if (child.pid) writeFileSync(this.#pidFile, String(child.pid));
    this.o.onEvent?.(`consul ${this.#version} started (pid ${child.pid})`);
    child.once('exit', (code, signal) => {
      if (this.#stopping || this.#child !== child) return;
      if (code === 0) {
        this.#left = true;
        this.o.onEvent?.('consul left its cluster and exited (0); not restarted until the VM restarts');
        return;
      }
      const { delayMs: delay, restarts } = restartBackoff(this.#restarts, Date.now() - startedAt, this.o.stableAfterMs ?? 60_000);
      this.#restarts = restarts;
      this.o.onEvent?.(`consul exited (${signal ?? code}); restarting in ${delay} ms`);
      this.#restartTimer = setTimeout(() => {
        if (!this.#stopping) this.#spawn();
      }, delay);
    });
  }
}
