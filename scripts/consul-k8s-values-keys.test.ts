import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'helm-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/consul-k8s-values-keys.ts', ...args], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('scripts/consul-k8s-values-keys.ts', () => {
  it("prints a values.yaml's key paths, parents included and lists as leaves, under a header naming the chart version", () => {
    const file = join(dir, 'values.yaml');
    writeFileSync(
      file,
      'global:\n  # a comment\n  tls:\n    enabled: false\n  name: null\nexternalServers:\n  hosts: []\n  tolerations:\n    - key: a\n',
    );
    const r = run(file, '1.9.11');
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('# Key paths documented by the consul-k8s Helm chart 1.9.11: charts/consul/values.yaml of');
    expect(lines.filter((l) => !l.startsWith('#'))).toEqual([
      'externalServers',
      'externalServers.hosts',
      'externalServers.tolerations',
      'global',
      'global.name',
      'global.tls',
      'global.tls.enabled',
    ]);
    expect(r.stdout).not.toContain(dir);
  });

  it('refuses missing arguments, a malformed version and a file that is not the chart values, printing nothing', () => {
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'global:\n  name: x\n');
    expect(run()).toMatchObject({ status: 2, stdout: '', stderr: expect.stringContaining('usage:') as string });
    expect(run(other, 'v1.9')).toMatchObject({ status: 2, stdout: '' });
    expect(run(other, '1.9.11')).toMatchObject({ status: 1, stdout: '', stderr: expect.stringContaining('no externalServers') as string });
  });
});
