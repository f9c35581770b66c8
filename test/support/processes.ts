// Finding the processes a test started, among everything else running on the machine (other
// test files run the same binaries in parallel).
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';

function pgrep(pattern: string): string[] {
  try {
    return execFileSync('pgrep', ['-f', pattern]).toString().trim().split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function cwdOf(pid: string): string {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return '';
  }
}

/** Waits for the Terraform driver's `apply` of a saved plan running under `workRoot`; 0 if none came. */
export async function waitForTerraformApply(terraformBinary: string, workRoot: string, timeoutMs = 60_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const found = pgrep(`${terraformBinary} apply .*run\\.tfplan`).find((p) => cwdOf(p).startsWith(workRoot));
    if (found) return Number(found);
    await new Promise((r) => setTimeout(r, 100));
  }
  return 0;
}

/** Pid of the process matching `pattern` whose environment holds `KEY=value`, or 0. */
export function processWithEnv(pattern: string, entry: string): number {
  const found = pgrep(pattern).find((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, 'utf8').split('\0').includes(entry);
    } catch {
      return false;
    }
  });
  return Number(found ?? 0);
}
