import { describe, expect, it } from 'vitest';
import {
  runningConsulVersion,
  automaticUpgradeTarget,
  type CatalogueEntry,
  checkUpgradeRequest,
  classifyUpgrade,
  compareVersions,
  defaultVersion,
  isVersionAllowed,
  listUpgradeTargets,
  parseVersion,
} from './versions.js';

const catalogue: CatalogueEntry[] = [
  { version: '1.17.0', status: 'RECOMMENDED' },
  { version: '1.16.3', status: 'AVAILABLE' },
  { version: '1.16.5', status: 'PREVIEW' },
  { version: '1.16.4', status: 'RECOMMENDED' },
  { version: '1.16.2', status: 'AVAILABLE' },
  { version: '1.18.0', status: 'PREVIEW' },
  { version: '2.0.0', status: 'AVAILABLE' },
  { version: 'not-a-version', status: 'AVAILABLE' },
];

describe('parseVersion', () => {
  it('parses MAJOR.MINOR.PATCH', () => {
    expect(parseVersion('1.16.2')).toEqual({ major: 1, minor: 16, patch: 2 });
    expect(parseVersion('0.0.0')).toEqual({ major: 0, minor: 0, patch: 0 });
  });
  it.each(['1.16', 'v1.16.2', '1.16.2-beta1', '1.16.2+ent', '01.16.2', '1.16.02', '', '1.16.2.1', ' 1.16.2', '99999999999999999999.0.0'])(
    'refuses %j',
    (text) => {
      expect(parseVersion(text)).toBeUndefined();
    },
  );
  it('compares numerically, not lexically', () => {
    expect(compareVersions({ major: 1, minor: 9, patch: 0 }, { major: 1, minor: 10, patch: 0 })).toBe(-1);
  });
});

describe('classifyUpgrade', () => {
  it.each([
    ['1.16.2', '1.16.3', 'patch'],
    ['1.16.2', '1.17.0', 'minor'],
    ['1.16.2', '1.18.1', 'minor'],
    ['1.16.2', '2.0.0', 'major'],
    ['1.16.2', '1.16.2', 'same'],
    ['1.16.2', '1.16.1', 'downgrade'],
    ['1.16.2', '1.15.9', 'downgrade'],
    ['2.0.0', '1.99.99', 'downgrade'],
    ['1.9.0', '1.10.0', 'minor'],
  ])('%s -> %s is %s', (from, to, kind) => {
    expect(classifyUpgrade(from, to)).toBe(kind);
  });
  it('throws on malformed versions', () => {
    expect(() => classifyUpgrade('1.16', '1.16.3')).toThrow(
      'Consul version must be a version MAJOR.MINOR.PATCH such as "1.16.2"; got "1.16"',
    );
  });
});

describe('isVersionAllowed', () => {
  it('accepts catalogue versions of any status and nothing else', () => {
    expect(isVersionAllowed('1.16.2', catalogue)).toBe(true);
    expect(isVersionAllowed('1.18.0', catalogue)).toBe(true);
    expect(isVersionAllowed('1.16.1', catalogue)).toBe(false);
    expect(isVersionAllowed('not-a-version', catalogue)).toBe(false);
  });
});

describe('listUpgradeTargets', () => {
  it('lists newer versions oldest first with their kind', () => {
    expect(listUpgradeTargets('1.16.3', catalogue).map((t) => `${t.version}:${t.kind}:${t.status}`)).toEqual([
      '1.16.4:patch:RECOMMENDED',
      '1.16.5:patch:PREVIEW',
      '1.17.0:minor:RECOMMENDED',
      '1.18.0:minor:PREVIEW',
      '2.0.0:major:AVAILABLE',
    ]);
  });
  it('is empty at the newest version', () => {
    expect(listUpgradeTargets('2.0.0', catalogue)).toEqual([]);
  });
});

describe('automaticUpgradeTarget', () => {
  const on = { automaticPatchUpgrades: true };
  it('picks the newest non-preview patch of the same minor', () => {
    expect(automaticUpgradeTarget('1.16.2', catalogue, on)).toBe('1.16.4');
  });
  it('never moves when the policy is off', () => {
    expect(automaticUpgradeTarget('1.16.2', catalogue, { automaticPatchUpgrades: false })).toBeUndefined();
  });
  it('never picks a minor or major upgrade', () => {
    expect(automaticUpgradeTarget('1.17.0', catalogue, on)).toBeUndefined();
  });
  it('never picks a preview patch', () => {
    expect(automaticUpgradeTarget('1.16.4', catalogue, on)).toBeUndefined();
    expect(automaticUpgradeTarget('1.16.4', [{ version: '1.16.9', status: 'PREVIEW' }], on)).toBeUndefined();
  });
});

describe('defaultVersion', () => {
  it('prefers the newest RECOMMENDED, then the newest AVAILABLE', () => {
    expect(defaultVersion(catalogue)).toBe('1.17.0');
    expect(defaultVersion(catalogue.filter((e) => e.status !== 'RECOMMENDED'))).toBe('2.0.0');
    expect(defaultVersion([{ version: '1.18.0', status: 'PREVIEW' }])).toBeUndefined();
  });
});

describe('checkUpgradeRequest', () => {
  const code = (current: string, requested: string) =>
    checkUpgradeRequest(current, requested, catalogue).map((d) => `${d.code}@${d.target}`);
  it('accepts an upgrade to an offered newer version', () => {
    expect(checkUpgradeRequest('1.16.2', '1.17.0', catalogue)).toEqual([]);
  });
  it('names each refusal', () => {
    expect(code('1.16.2', '1.17')).toEqual(['InvalidConsulVersion@consulVersion']);
    expect(code('1.16.2', '1.16.9')).toEqual(['UnsupportedConsulVersion@consulVersion']);
    expect(code('1.16.2', '1.16.2')).toEqual(['ConsulVersionUnchanged@consulVersion']);
    expect(code('1.17.0', '1.16.4')).toEqual(['ConsulDowngradeNotAllowed@consulVersion']);
  });
  it('lists the supported versions when refusing an unknown one', () => {
    expect(checkUpgradeRequest('1.16.2', '1.16.9', catalogue)[0]?.message).toBe(
      'consulVersion 1.16.9 is not offered; supported versions: 1.16.2, 1.16.3, 1.16.4, 1.16.5, 1.17.0, 1.18.0, 2.0.0',
    );
  });
});

describe('runningConsulVersion', () => {
  const spec = { properties: { consulVersion: '1.22.5' } };
  it('is what the servers last reported after an upgrade', () => {
    expect(runningConsulVersion({ status: { currentConsulVersion: '1.22.7' }, spec })).toBe('1.22.7');
  });
  it('is the version the spec asked for until then', () => {
    expect(runningConsulVersion({ status: {}, spec })).toBe('1.22.5');
  });
});
