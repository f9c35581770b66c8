import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { readSecretFile } from './secret-file.js';

const dir = mkdtempSync(join(tmpdir(), 'hcs-secret-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string, mode: number) => {
  const p = join(dir, name);
  writeFileSync(p, content);
  chmodSync(p, mode);
  return p;
};

it('reads an owner-only (or group) secret file, trimmed', () => {
  expect(readSecretFile('X_FILE', file('a', 's3cret\n', 0o600))).toBe('s3cret');
  expect(readSecretFile('X_FILE', file('b', 's3cret', 0o440))).toBe('s3cret');
});

it('names the setting for a missing file, a folder and an empty file', () => {
  expect(() => readSecretFile('X_FILE', join(dir, 'missing'))).toThrow(/^X_FILE: the secret file .*missing does not exist$/);
  mkdirSync(join(dir, 'folder'));
  expect(() => readSecretFile('X_FILE', join(dir, 'folder'))).toThrow(/^X_FILE: .*folder is not a regular file$/);
  expect(() => readSecretFile('X_FILE', file('empty', ' \n', 0o600))).toThrow(/^X_FILE: the secret file .*empty is empty$/);
});

it('refuses a world-readable or world-writable file, without showing its content', () => {
  for (const mode of [0o644, 0o604, 0o602]) {
    const attempt = () => readSecretFile('X_FILE', file(`open-${mode}`, 'do-not-show', mode));
    expect(attempt).toThrow(new RegExp(`^X_FILE: the secret file .* has mode 0${mode.toString(8)}; other users may read or write it`));
    expect(attempt).not.toThrow(/do-not-show/);
  }
});
