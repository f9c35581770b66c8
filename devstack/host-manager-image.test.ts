// The twin's server image is host-manager whole: built into one file that plain `node` runs,
// it reads its configuration and refuses a missing one by name, as the agent from source does.
// Every lifecycle test on the twin runs its servers from this image.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { buildHostManagerImage, HOST_MANAGER_IMAGE } from './host-manager-image.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-image-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('builds host-manager into one file that node runs without the TypeScript loader', async () => {
  const image = await buildHostManagerImage(dir);
  expect(image).toBe(join(dir, HOST_MANAGER_IMAGE));
  const run = await promisify(execFile)(process.execPath, [image], { cwd: dir, env: { PATH: process.env.PATH ?? '' } }).catch(
    (err: { code?: number; stderr?: string }) => err,
  );
  expect(run).toMatchObject({ code: 1 });
  expect((run as { stderr: string }).stderr).toMatch(
    /host-manager: invalid configuration: HCS_CUSTOM_DATA_FILE: .*; HCS_INSTANCE_IP: .*; HCS_CONSUL_BINARIES: /,
  );
});
