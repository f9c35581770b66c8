import { describe, expect, it } from 'vitest';
import { planPrivateFqdn, privateFqdnOf } from './cluster-plan.js';

describe('privateFqdnOf', () => {
  it('puts `private` after the first label, as HCP names its private endpoints', () => {
    expect(privateFqdnOf('c1.abc.zone')).toBe('c1.private.abc.zone');
    expect(privateFqdnOf('prod-7f3a.consul.hcs.test')).toBe('prod-7f3a.private.consul.hcs.test');
    expect(privateFqdnOf('a.b')).toBe('a.private.b');
  });

  it('drops a trailing dot', () => {
    expect(privateFqdnOf('c1.abc.zone.')).toBe('c1.private.abc.zone');
  });

  it('refuses what is no DNS name of two labels or more, naming it', () => {
    for (const bad of ['', 'single', '.abc.zone', 'c1.', 'c1..zone'])
      expect(() => privateFqdnOf(bad)).toThrow(`'${bad}' is not a DNS name of at least two labels`);
  });

  it('a plan recorded before privateFqdn existed derives it from fqdn; a recorded one wins', () => {
    expect(planPrivateFqdn({ fqdn: 'c1.abc.zone' })).toBe('c1.private.abc.zone');
    expect(planPrivateFqdn({ fqdn: 'c1.abc.zone', privateFqdn: 'other.private.abc.zone' })).toBe('other.private.abc.zone');
  });
});
