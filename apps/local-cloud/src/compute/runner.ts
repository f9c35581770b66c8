// How a scale-set instance becomes a process. The InstanceRunner seam lets tests plug in tiny
// `node -e` programs and the dev stack plug in host-manager (which runs a real consul agent).
// The default runner spawns a command in its own process group, so stopping an instance takes
// its children (consul) with it; a watchdog kills every instance group if the twin itself dies
// without cleaning up, and a later twin on the same dataDir reaps groups an earlier one left.
import { type ChildProcess, spawn } from 'node:child_process';
import { reapMarkedGroups, signalGroup, startOrphanWatchdog } from '../../../../lib/process-groups.js';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
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
  reapMarkedGroups(groupsFile, marker);
  const live = new Set<number>();
  const record = () => writeFileSync(groupsFile, [...live].map((p) => `${p}\n`).join(''));
  record();
  const watchdog = startOrphanWatchdog(groupsFile, 'local-cloud-watchdog', 0);

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
        // A VM whose main process is gone is down as a whole: nothing it started survives
        // (otherwise an orphaned Consul would hold the instance's ports after the restart).
        signalGroup(pid, 'SIGKILL');
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
