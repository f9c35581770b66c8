// The decrypt command as an SRE runs it: a process, files in and out, exit codes.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encryptStream } from '../../../lib/segmented-aes-gcm.js';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hcs-decrypt-'));
const key = randomBytes(32);
// More than one segment (1 MiB each) and a partial last one.
const plain = randomBytes(2 * 1024 * 1024 + 12345);
const stored = join(dir, 'snapshot.enc');
const keyFile = join(dir, 'key.b64');

beforeAll(async () => {
  await pipeline(Readable.from([plain]), encryptStream(key), createWriteStream(stored));
  writeFileSync(keyFile, `${key.toString('base64')}\n`, { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

it('decrypts a stored snapshot to the exact original bytes', () => {
  const out = join(dir, 'ok.snap');
  const r = run('--in', stored, '--key-file', keyFile, '--out', out);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toContain(`(${plain.length} bytes)`);
  expect(readFileSync(out).equals(plain)).toBe(true);
  expect(r.out).not.toContain(key.toString('base64'));
});

it('a wrong key is named as such (exit 65) and leaves no output file', () => {
  const other = join(dir, 'other.b64');
  writeFileSync(other, randomBytes(32).toString('base64'));
  const out = join(dir, 'wrong.snap');
  const r = run('--in', stored, '--key-file', other, '--out', out);
  expect(r.code).toBe(65);
  expect(r.err).toContain('(wrong-key)');
  expect(existsSync(out)).toBe(false);
  expect(existsSync(`${out}.partial`)).toBe(false);
});

it('a damaged file is refused (exit 65) and leaves no output file', () => {
  const bytes = readFileSync(stored);
  bytes[bytes.length - 100]! ^= 1;
  const damaged = join(dir, 'damaged.enc');
  writeFileSync(damaged, bytes);
  const out = join(dir, 'damaged.snap');
  const r = run('--in', damaged, '--key-file', keyFile, '--out', out);
  expect(r.code).toBe(65);
  expect(r.err).toContain('(corrupt-segment)');
  expect(existsSync(out)).toBe(false);
});

it('usage errors (exit 64), a key file without a 32-byte key (65) and a missing input (66) are precise', () => {
  const missing = run('--in', stored);
  expect(missing.code).toBe(64);
  expect(missing.err).toContain('missing --key-file, --out');
  const short = join(dir, 'short.b64');
  writeFileSync(short, randomBytes(16).toString('base64'));
  const bad = run('--in', stored, '--key-file', short, '--out', join(dir, 'x'));
  expect(bad.code).toBe(65);
  expect(bad.err).toContain('does not hold a base64 32-byte key (it holds 16 bytes)');
  const noInput = run('--in', join(dir, 'nope.enc'), '--key-file', keyFile, '--out', join(dir, 'y'));
  expect(noInput.code).toBe(66);
  expect(noInput.err).toContain('no such file');
});
