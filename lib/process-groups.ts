// Process-group housekeeping shared by the service supervisor and the ARM twin's instance
// runner: signalling whole groups, a watchdog that stops them if their owner is SIGKILLed, and
// reaping groups an earlier owner left behind (only those carrying its marker: pids get reused).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** Waits (up to `timeoutMs`) until no process of the group is left, reaped ones included. */
export async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return true;
    }
  }
  return false;
}

/**
 * Starts a watchdog that outlives this process by a second at most: it polls our pid and, once
 * we are gone, signals every process group listed in `groupsFile` (TERM, then KILL after
 * `graceSeconds`; KILL at once when 0). It re-reads the list at the end and keeps the last one
 * it saw, so losing the file does not blind it.
 */
export function startOrphanWatchdog(groupsFile: string, name: string, graceSeconds: number): ChildProcess {
  const kill =
    graceSeconds > 0
      ? [
          'for g in $groups; do kill -TERM -"$g" 2>/dev/null; done',
          `sleep ${graceSeconds}`,
          'for g in $groups; do kill -KILL -"$g" 2>/dev/null; done',
        ]
      : ['for g in $groups; do kill -KILL -"$g" 2>/dev/null; done'];
  const script = [
    'parent=$1; file=$2; groups=""',
    'while kill -0 "$parent" 2>/dev/null; do',
    '  if [ -f "$file" ]; then groups=$(cat "$file"); fi',
    '  sleep 1',
    'done',
    'if [ -f "$file" ]; then groups=$(cat "$file"); fi',
    ...kill,
  ].join('\n');
  const watchdog = spawn('sh', ['-c', script, name, String(process.pid), groupsFile], { detached: true, stdio: 'ignore' });
  watchdog.unref();
  return watchdog;
}

/** Kills the groups listed in `groupsFile` whose leader's environment contains `marker` (KEY=value). */
export function reapMarkedGroups(groupsFile: string, marker: string): void {
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
