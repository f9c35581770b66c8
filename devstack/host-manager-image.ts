// The twin's server image: host-manager built into one JavaScript file, as a real VM image
// carries a built agent rather than its TypeScript sources. Every scale-set instance of the twin
// runs it with plain `node`. Through the tsx loader, loading and compiling its modules took
// about 1.1 s (1.3 s of CPU) on an idle machine; three new servers at once, beside Terraform on
// 2 cores, first read Blob 3.5-4 s after they were created, which held up every create's health
// gate. The bundle loads in about 0.3 s.
import { build } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../scripts/toolchain.mjs';

/** The image's file name; a process running it is an instance's host-manager. */
export const HOST_MANAGER_IMAGE = 'host-manager-image.mjs';

/** Builds the image into `dir` (each stack its own, from the sources it runs); returns its path. */
export async function buildHostManagerImage(dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const outfile = join(dir, HOST_MANAGER_IMAGE);
  await build({
    entryPoints: [join(repoRoot, 'apps', 'host-manager', 'src', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    // No source map: an inline one makes the file four times larger and the start three times slower.
    logLevel: 'warning',
    // Some dependencies are CommonJS and call require(): give the ES module one.
    banner: {
      js: "import { createRequire as __hcsCreateRequire } from 'node:module'; const require = __hcsCreateRequire(import.meta.url);",
    },
  });
  return outfile;
}
