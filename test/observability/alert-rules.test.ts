// The alert rules (observability/alerts.yml) checked and unit-tested by the real promtool: the
// rules parse, every case of observability/alerts.test.yml passes (each rule fires on a series
// that should fire it and stays quiet on one that should not), and promtool really fails a case
// whose expectation is wrong, so a passing run means the rules behave as written.
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { toolPaths } from '../../scripts/toolchain.mjs';
import { useScratchFolder } from '../support/control-plane-fixture.js';

const run = promisify(execFile);
const promtool = toolPaths().promtool;
const folder = fileURLToPath(new URL('../../observability/', import.meta.url));
const RULES = ['HcsCertificateExpiring', 'HcsSnapshotsStale', 'HcsOperationFailureRate', 'HcsWorkerDown', 'HcsNoTaskQueuePollers'];

async function promtoolRun(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(promtool, args, { cwd });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, out: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

describe('alert rules', () => {
  const scratch = useScratchFolder('hcs-alert-rules-');

  it('parse, with one rule for each alert the SREs asked for', async () => {
    const r = await promtoolRun(['check', 'rules', 'alerts.yml'], folder);
    expect(r.out).toContain(`SUCCESS: ${RULES.length} rules found`);
    expect(r.code).toBe(0);
    const text = readFileSync(join(folder, 'alerts.yml'), 'utf8');
    for (const name of RULES) expect(text).toContain(`alert: ${name}`);
  });

  it('pass their unit tests: each fires where it should and stays quiet where it should not', async () => {
    const r = await promtoolRun(['test', 'rules', 'alerts.test.yml'], folder);
    expect(r.out, r.out).toContain('SUCCESS');
    expect(r.code, r.out).toBe(0);
    const cases = readFileSync(join(folder, 'alerts.test.yml'), 'utf8');
    for (const name of RULES) {
      expect(cases).toContain(`alertname: ${name}\n        exp_alerts: []`);
      expect(cases).toMatch(new RegExp(`alertname: ${name}\\n        exp_alerts:\\n          - exp_labels:`));
    }
  });

  it('fail a case whose expectation is wrong (snapshots one and a half intervals old said to be stale)', async () => {
    copyFileSync(join(folder, 'alerts.yml'), join(scratch, 'alerts.yml'));
    const cases = readFileSync(join(folder, 'alerts.test.yml'), 'utf8');
    const quiet =
      "values: '1.5x20'\n    alert_rule_test:\n      - eval_time: 15m\n        alertname: HcsSnapshotsStale\n        exp_alerts: []";
    expect(cases).toContain(quiet);
    const wrong = cases.replace(
      quiet,
      "values: '1.5x20'\n    alert_rule_test:\n      - eval_time: 15m\n        alertname: HcsSnapshotsStale\n        exp_alerts:\n          - exp_labels:\n              severity: ticket",
    );
    writeFileSync(join(scratch, 'alerts.test.yml'), wrong);
    const r = await promtoolRun(['test', 'rules', 'alerts.test.yml'], scratch);
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain('HcsSnapshotsStale');
  });
});
