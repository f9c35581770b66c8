// The Terraform driver's per-run working folders. A run's folder holds the configuration, the
// variables, the providers and the saved plan, so it and the work root above it are private to
// the worker (0700). Each folder is named after the process that made it (pid and start time),
// `tfrun-<pid>-<start>-<random>-<state>`, and removed when its run ends; what a killed worker left
// behind is swept when a worker starts: folders of that pattern whose process no longer runs (or
// is this process, which has no such run open). Anything else under the work root is left alone.
// The work root must be local to the machine (process ids mean nothing across machines).
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

const RUN_FOLDER = /^tfrun-(\d+)-(\d+)-[0-9a-f]{8}-/;
/** Folders of runs this process has open (several drivers in one process may share a work root). */
const openHere = new Set<string>();
/** Sticky bit: a shared folder such as /tmp, never to be made private. */
const STICKY = 0o1000;
const HAS_PROC = existsSync('/proc/self/stat');

/** Creates the work root as 0700, or tightens an existing one of ours; refuses one others can enter that is not ours. */
export function ensurePrivateRoot(root: string): void {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const st = statSync(root);
  if ((st.mode & 0o077) === 0) return;
  const uid = process.getuid?.();
  if (st.mode & STICKY || (uid !== undefined && st.uid !== uid))
    throw new Error(`the Terraform work root ${root} is open to other users and not the worker's own folder to make private`);
  chmodSync(root, 0o700);
}

/** A new private run folder under the work root; remove() deletes it and all it holds. */
export function makeRunFolder(root: string, state: string): { path: string; remove: () => void } {
  ensurePrivateRoot(root);
  const path = join(root, `tfrun-${process.pid}-${startTimeOf(process.pid) ?? 0}-${randomBytes(4).toString('hex')}-${state}`);
  mkdirSync(path, { mode: 0o700 });
  chmodSync(path, 0o700); // whatever the umask
  openHere.add(path);
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
      openHere.delete(path);
    },
  };
}

/** Removes the run folders no running process owns; returns their names. */
export function sweepRunFolders(root: string): string[] {
  ensurePrivateRoot(root);
  const removed: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    const m = RUN_FOLDER.exec(entry.name);
    // Only real folders (a symbolic link is never followed) of our own pattern.
    if (!m || !entry.isDirectory()) continue;
    const path = join(root, entry.name);
    if (ownerRuns(Number(m[1]), m[2]!, path)) continue;
    rmSync(path, { recursive: true, force: true });
    removed.push(entry.name);
  }
  return removed;
}

function ownerRuns(pid: number, start: string, path: string): boolean {
  const now = startTimeOf(pid);
  // The same pid with another start time is another process (pids are reused, and a worker in
  // a container often has the same pid after every restart).
  if (now !== undefined && start !== '0' && now !== start) return false;
  if (pid === process.pid) return openHere.has(path);
  if (HAS_PROC) return now !== undefined;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, as another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A process's start time (clock ticks since boot, from /proc) while it runs and is not a
 * zombie; undefined when it is gone or the system has no /proc.
 */
export function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] === 'Z' || fields[0] === 'X') return undefined;
  return fields[19];
}
