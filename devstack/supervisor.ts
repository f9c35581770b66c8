// The one service supervisor used by the dev stack (`npm start`) and by the tests.
//
// It starts each service as its own process group on loopback, writes the service's output to
// a log file, waits for real readiness through a probe the service definition supplies (never a
// fixed sleep), and stops every group it started: on stop(), on process exit, on Ctrl-C/SIGTERM,
// and - through a small watchdog process - even when this process is killed with SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reapMarkedGroups, signalGroup, startOrphanWatchdog, waitForGroupGone } from '../lib/process-groups.js';
import { setTimeout as delay } from 'node:timers/promises';
import { PortBook } from './ports.js';

export interface ProcessSpec {
  /** Short name, also the log file name. */
  name: string;
  command: string;
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /**
   * Resolves once the service really answers; called repeatedly until it resolves or the
   * deadline passes. Throwing means "not yet".
   */
  probe: () => Promise<void>;
  /** How long to wait for readiness before giving up (default 60 s). */
  readyTimeoutMs?: number;
  /** Signal for a graceful stop (default SIGTERM); SIGKILL follows after stopTimeoutMs. */
  stopSignal?: NodeJS.Signals;
  stopTimeoutMs?: number;
}

export interface RunningProcess {
  name: string;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<string>;
}

export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
}

/** The service exited at start because an address it was given is in use. */
export class PortTakenError extends ServiceStartError {
  override name = 'PortTakenError';
}

/** A service's ports, named as for Supervisor.port. */
export type PortTaker = (name: string, o?: { below?: number }) => Promise<number>;

/** How many times startOnFreePorts builds a service whose port was taken before it bound it. */
const PORT_ATTEMPTS = 3;

export { freePort } from './ports.js';

interface Entry {
  spec: ProcessSpec;
  child: ChildProcess;
  running: RunningProcess;
}

export interface SupervisorOptions {
  /** Folder for log files and the watchdog's list of process groups. */
  stateDir: string;
  /** Called for supervisor events (started, ready, stopped); default: silent. */
  onEvent?: (message: string) => void;
  /** Keep the services' ports in this file across restarts (see ports.ts); default: any free port. */
  portsFile?: string;
}

export class Supervisor {
  readonly logDir: string;
  readonly #stateDir: string;
  readonly #entries: Entry[] = [];
  readonly #onEvent: (m: string) => void;
  readonly #groupsFile: string;
  readonly #ports: PortBook;
  #watchdog: ChildProcess | undefined;
  #stopping: Promise<void> | undefined;
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    this.#onEvent(`received ${signal}, stopping services`);
    void this.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  readonly #onExit = (): void => this.#killAllNow();

  constructor(options: SupervisorOptions) {
    this.#stateDir = options.stateDir;
    this.logDir = join(options.stateDir, 'logs');
    this.#onEvent = options.onEvent ?? (() => {});
    this.#ports = new PortBook(options.portsFile);
    mkdirSync(this.logDir, { recursive: true });
    this.#groupsFile = join(this.#stateDir, 'process-groups');
    this.#reapLeftovers();
    writeFileSync(this.#groupsFile, '');
    this.#startWatchdog();
    process.once('SIGINT', this.#onSignal);
    process.once('SIGTERM', this.#onSignal);
    process.once('exit', this.#onExit);
  }

  /**
   * A loopback port for `name` (`service-purpose`), the same across restarts when the stack keeps
   * its ports; `below` for a server that cannot take a larger port number.
   */
  port(name: string, o: { below?: number } = {}): Promise<number> {
    return this.#ports.take(name, o);
  }

  /**
   * Starts the service `build` describes, on ports it takes through `port`. A port is checked
   * free and then released for the service to bind, and another process can bind it in between
   * (parallel test stacks pick from the same range): when the service exits at start saying an
   * address is in use, it is built again on new ports, up to 3 times. A port a persistent stack
   * kept from an earlier start is not replaced (clusters name it); its error is thrown.
   */
  async startOnFreePorts<T>(build: (port: PortTaker) => Promise<{ spec: ProcessSpec; value: T }>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const names: string[] = [];
      const { spec, value } = await build((name, o) => {
        names.push(name);
        return this.port(name, o);
      });
      try {
        await this.start(spec);
        return value;
      } catch (err) {
        if (!(err instanceof PortTakenError) || attempt >= PORT_ATTEMPTS || !names.every((n) => this.#ports.release(n))) throw err;
        this.#onEvent(`${spec.name}: an address it was given was taken before it bound it; starting it on new ports`);
      }
    }
  }

  /** The running process of the service named `name` (it must have been started). */
  running(name: string): RunningProcess {
    const entry = this.#entries.find((e) => e.spec.name === name);
    if (!entry) throw new Error(`no service named ${name} runs under this supervisor`);
    return entry.running;
  }

  /** Starts a process and resolves once its probe passes; on failure the process is stopped. */
  async start(spec: ProcessSpec): Promise<RunningProcess> {
    if (this.#stopping) throw new ServiceStartError(`supervisor is stopping; not starting ${spec.name}`);
    const logFile = join(this.logDir, `${spec.name}.log`);
    appendFileSync(logFile, `\n--- ${new Date().toISOString()} starting: ${spec.command} ${spec.args.join(' ')}\n`);
    const logStart = statSync(logFile).size;
    const fd = openSync(logFile, 'a');
    const child = spawn(spec.command, spec.args, {
      cwd: spec.cwd,
      // The marker lets a later supervisor recognise (and only ever reap) processes it owns.
      env: { ...process.env, ...spec.env, HCS_SUPERVISED_BY: this.#groupsFile },
      stdio: ['ignore', fd, fd],
      detached: true, // own process group, so stop() reaches grandchildren too
    });
    closeSync(fd);
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? String(code)));
      child.once('error', (err) => resolve(`spawn error: ${err.message}`));
    });
    if (child.pid === undefined) {
      const why = await exited;
      throw new ServiceStartError(`${spec.name}: could not start ${spec.command}: ${why}`);
    }
    const running: RunningProcess = { name: spec.name, pid: child.pid, logFile, exited };
    const entry: Entry = { spec, child, running };
    this.#entries.push(entry);
    appendFileSync(this.#groupsFile, `${child.pid}\n`);
    this.#onEvent(`${spec.name}: started (pid ${child.pid}), log ${logFile}`);

    const deadline = Date.now() + (spec.readyTimeoutMs ?? 60_000);
    let exitedEarly: string | undefined;
    void exited.then((why) => (exitedEarly = why));
    let lastError = 'no probe attempt yet';
    for (let attempt = 0; ; attempt++) {
      if (exitedEarly !== undefined) {
        await this.#forget(entry);
        const message = `${spec.name} exited before it was ready (${exitedEarly}); last lines of ${logFile}:\n${tail(logFile)}`;
        throw ADDRESS_IN_USE.test(readFrom(logFile, logStart)) ? new PortTakenError(message) : new ServiceStartError(message);
      }
      try {
        await spec.probe();
        this.#onEvent(`${spec.name}: ready`);
        return running;
      } catch (err) {
        lastError = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        await this.#stopOne(entry);
        throw new ServiceStartError(
          `${spec.name} was not ready within ${spec.readyTimeoutMs ?? 60_000} ms (last probe: ${lastError}); see ${logFile}:\n${tail(logFile)}`,
        );
      }
      await delay(Math.min(50 * 2 ** attempt, 500));
    }
  }

  /**
   * Stops one service by name and forgets it (a test takes part of a stack down); returns its
   * spec, so start(spec) runs it again with the same command, ports and data folder.
   */
  async stopService(name: string): Promise<ProcessSpec> {
    const entry = this.#entries.find((e) => e.spec.name === name);
    if (!entry) throw new Error(`no service named ${name} runs under this supervisor`);
    await this.#forget(entry);
    return entry.spec;
  }

  /** Stops a service (its whole group) and drops it from the list the watchdog reads. */
  async #forget(entry: Entry): Promise<void> {
    await this.#stopOne(entry);
    this.#entries.splice(this.#entries.indexOf(entry), 1);
    writeFileSync(this.#groupsFile, this.#entries.map((e) => `${e.running.pid}\n`).join(''));
  }

  /** Stops every process, last started first. Safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const entry of [...this.#entries].reverse()) await this.#stopOne(entry);
      this.#entries.length = 0;
      writeFileSync(this.#groupsFile, '');
      this.#watchdog?.kill('SIGKILL');
      process.off('SIGINT', this.#onSignal);
      process.off('SIGTERM', this.#onSignal);
      process.off('exit', this.#onExit);
      this.#onEvent('all services stopped');
    })();
    return this.#stopping;
  }

  async #stopOne(entry: Entry): Promise<void> {
    const pid = entry.running.pid;
    const done = entry.running.exited;
    let finished = false;
    void done.then(() => (finished = true));
    signalGroup(pid, entry.spec.stopSignal ?? 'SIGTERM');
    const timeout = entry.spec.stopTimeoutMs ?? 10_000;
    const outcome = await Promise.race([done, delay(timeout).then(() => 'timeout')]);
    if (outcome === 'timeout' && !finished) {
      this.#onEvent(`${entry.spec.name}: did not stop within ${timeout} ms, killing`);
      signalGroup(pid, 'SIGKILL');
      await done;
    }
    // Children that left the group's leader behind (daemonised helpers) go too, and stopped
    // means gone: their exit is waited for as well.
    signalGroup(pid, 'SIGKILL');
    await waitForGroupGone(pid, 5_000);
    this.#onEvent(`${entry.spec.name}: stopped (${await done})`);
  }

  #killAllNow(): void {
    for (const entry of this.#entries) signalGroup(entry.running.pid, 'SIGKILL');
  }

  // The watchdog stops our groups even if this process is SIGKILLed (TERM, then KILL after 3 s).
  #startWatchdog(): void {
    this.#watchdog = startOrphanWatchdog(this.#groupsFile, 'hcs-watchdog', 3);
  }

  // Process groups listed by an earlier supervisor on the same state folder that still run
  // (its watchdog was killed too, say) are stopped before anything new starts.
  #reapLeftovers(): void {
    reapMarkedGroups(this.#groupsFile, `HCS_SUPERVISED_BY=${this.#groupsFile}`);
  }
}

/** What servers print when they cannot bind (Go's net package, Node's EADDRINUSE, Java's BindException). */
const ADDRESS_IN_USE = /address already in use|EADDRINUSE/i;

/** The file from byte `offset` on (what a process printed since it was started). */
function readFrom(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
