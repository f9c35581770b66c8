// How a scale-set instance becomes a process. The InstanceRunner seam lets tests plug in tiny
// `node -e` programs and the dev stack plug in host-manager (which runs a real consul agent).
// The default runner spawns a command in its own process group, so stopping an instance takes
// its children (consul) with it; a watchdog kills every instance group if the twin itself dies
// without cleaning up, and a later twin on the same dataDir reaps groups an earlier one left.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface InstanceSpec {
  vmssId: string;
  instanceId: string;
  /** The VM's resource name, `{scaleSet}_{instanceId}`. */
  vmName: string;
  /** Host name (osProfile.computerName), exported as HCS_INSTANCE_NAME. */
  name: string;
  zone?: string;
  privateIp: string;
  /** customData as the VM sees it (decoded); also written to env.HCS_CUSTOM_DATA_FILE. */
  customData?: Buffer;
  /** The instance's folder (console log, custom data); `diskDir` inside it is wiped by reimage. */
  dir: string;
  diskDir: string;
  /** Everything the platform gives the VM: HCS_* metadata, IDENTITY_ENDPOINT/IDENTITY_HEADER, the CA. */
  env: Record<string, string>;
}

export interface InstanceProcess {
  pid: number;
  /** Resolves with the exit code or signal once the process is gone. */
  exited: Promise<string>;
  /** Stops the process (and its children); resolves once it has exited. */
  stop(): Promise<void>;
}

export interface InstanceRunner {
  start(spec: InstanceSpec): Promise<InstanceProcess>;
  close?(): Promise<void>;
}

export interface CommandRunnerOptions {
  command: string;
  args?: string[];
  /** Extra environment for every instance (PATH, HOME and LANG are passed through). */
  env?: Record<string, string>;
  /** Where the list of live process groups is kept for the watchdog and for reaping. */
  stateDir: string;
  /** Grace period after SIGTERM before SIGKILL (default 5 s). */
  stopTimeoutMs?: number;
}

const PASSED_THROUGH = ['PATH', 'HOME', 'LANG', 'TZ', 'TMPDIR'];

/** Runs `command args...` per instance with the instance's environment, cwd = its disk. */
export function commandRunner(o: CommandRunnerOptions): InstanceRunner {
  mkdirSync(o.stateDir, { recursive: true });
  const groupsFile = join(o.stateDir, 'instance-process-groups');
  const marker = `HCS_LOCAL_CLOUD_INSTANCE_OF=${groupsFile}`;
  reapLeftovers(groupsFile, marker);
  const live = new Set<number>();
  const record = () => writeFileSync(groupsFile, [...live].map((p) => `${p}\n`).join(''));
  record();
  const watchdog = startWatchdog(groupsFile);

  return {
    async start(spec) {
      mkdirSync(spec.diskDir, { recursive: true });
      const log = openSync(join(spec.dir, 'console.log'), 'a');
      const base = Object.fromEntries(PASSED_THROUGH.flatMap((k) => (process.env[k] ? [[k, process.env[k]]] : [])));
      let child: ChildProcess;
      try {
        child = spawn(o.command, o.args ?? [], {
          cwd: spec.diskDir,
          env: { ...base, ...o.env, ...spec.env, HCS_LOCAL_CLOUD_INSTANCE_OF: groupsFile },
          stdio: ['ignore', log, log],
          detached: true,
        });
      } finally {
        closeSync(log);
      }
      const exited = new Promise<string>((resolve) => {
        child.once('exit', (code, signal) => resolve(signal ?? `exit code ${code}`));
        child.once('error', (err) => resolve(`spawn error: ${err.message}`));
      });
      const pid = child.pid;
      if (pid === undefined) throw new Error(`could not start ${o.command}: ${await exited}`);
      live.add(pid);
      record();
      void exited.then(() => {
        live.delete(pid);
        record();
      });
      return {
        pid,
        exited,
        stop: async () => {
          signalGroup(pid, 'SIGTERM');
          const outcome = await Promise.race([exited, delay(o.stopTimeoutMs ?? 5_000).then(() => 'timeout')]);
          if (outcome === 'timeout') signalGroup(pid, 'SIGKILL');
          await exited;
          // Children that outlived their parent in the group (a daemonised helper) go too.
          signalGroup(pid, 'SIGKILL');
        },
      };
    },
    async close() {
      watchdog.kill('SIGKILL');
    },
  };
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

// The watchdog polls the twin's pid; once the twin is gone it kills every group still listed.
function startWatchdog(groupsFile: string): ChildProcess {
  const script = [
    'parent=$1; file=$2; groups=""',
    'while kill -0 "$parent" 2>/dev/null; do',
    '  if [ -f "$file" ]; then groups=$(cat "$file"); fi',
    '  sleep 1',
    'done',
    'for g in $groups; do kill -KILL -"$g" 2>/dev/null; done',
  ].join('\n');
  const w = spawn('sh', ['-c', script, 'local-cloud-watchdog', String(process.pid), groupsFile], { detached: true, stdio: 'ignore' });
  w.unref();
  return w;
}

// Only groups whose leader carries our marker are ours to kill: pids get reused.
function reapLeftovers(groupsFile: string, marker: string): void {
  let listed: string[];
  try {
    listed = readFileSync(groupsFile, 'utf8').split('\n').filter(Boolean);
  } catch {
    return;
  }
  for (const g of listed.map(Number)) {
    try {
      if (readFileSync(`/proc/${g}/environ`, 'utf8').split('\0').includes(marker)) signalGroup(g, 'SIGKILL');
    } catch {
      // not running any more
    }
  }
}
