import { describe, expect, it } from 'vitest';
import {
  checkClusterCidr,
  cidrRange,
  cidrsOverlap,
  findCidrOverlaps,
  formatCidr,
  formatIpv4,
  type Ipv4Cidr,
  parseIpv4Cidr,
} from './cidr.js';

function cidr(text: string): Ipv4Cidr {
  const parsed = parseIpv4Cidr(text);
  if (!parsed.ok) throw new Error(parsed.problem.message);
  return parsed.cidr;
}

const codes = (text: string) => checkClusterCidr(text).map((p) => p.code);

describe('parseIpv4Cidr', () => {
  it('parses address and prefix', () => {
    expect(cidr('10.1.0.0/16')).toEqual({ address: 0x0a010000, prefixLength: 16 });
    expect(formatCidr(cidr('192.168.10.0/24'))).toBe('192.168.10.0/24');
    expect(cidr('255.255.255.255/32').address).toBe(0xffffffff);
  });

  it.each([
    ['10.0.0.0', 'must be an IPv4 CIDR such as "10.0.0.0/16"; got "10.0.0.0"'],
    ['10.0.0/16', 'must be an IPv4 CIDR such as "10.0.0.0/16"; got "10.0.0/16"'],
    [' 10.0.0.0/16', 'must be an IPv4 CIDR such as "10.0.0.0/16"; got " 10.0.0.0/16"'],
    ['10.0.0.0/+16', 'must be an IPv4 CIDR such as "10.0.0.0/16"; got "10.0.0.0/+16"'],
    ['fd00::/64', 'must be an IPv4 CIDR such as "10.0.0.0/16"; got "fd00::/64"'],
    ['10.010.0.0/16', 'must be written without leading zeros (some tools read them as octal); "010" in "10.010.0.0/16"'],
    ['10.0.0.0/016', 'must be written without leading zeros (some tools read them as octal); "016" in "10.0.0.0/016"'],
    ['10.256.0.0/16', 'must have octets from 0 to 255; got "10.256.0.0/16"'],
    ['10.0.0.0/33', 'must have a prefix length from /0 to /32; got /33'],
  ])('refuses %j', (text, message) => {
    expect(parseIpv4Cidr(text)).toEqual({ ok: false, problem: { code: 'InvalidCidr', message } });
  });

  it('accepts a lone zero octet', () => {
    expect(parseIpv4Cidr('10.0.0.0/16').ok).toBe(true);
  });
});

describe('ranges and overlap', () => {
  it('computes first and last address, including /0 and /32', () => {
    const all = cidrRange(cidr('0.0.0.0/0'));
    expect([formatIpv4(all.first), formatIpv4(all.last)]).toEqual(['0.0.0.0', '255.255.255.255']);
    const one = cidrRange(cidr('10.1.2.3/32'));
    expect([formatIpv4(one.first), formatIpv4(one.last)]).toEqual(['10.1.2.3', '10.1.2.3']);
    const top = cidrRange(cidr('192.168.0.0/16'));
    expect(formatIpv4(top.last)).toBe('192.168.255.255');
  });

  it('detects containment and partial overlap, and not adjacency', () => {
    expect(cidrsOverlap(cidr('10.1.0.0/16'), cidr('10.1.128.0/24'))).toBe(true);
    expect(cidrsOverlap(cidr('10.1.128.0/24'), cidr('10.1.0.0/16'))).toBe(true);
    expect(cidrsOverlap(cidr('10.1.0.0/16'), cidr('10.2.0.0/16'))).toBe(false);
    expect(cidrsOverlap(cidr('10.1.0.0/24'), cidr('10.1.1.0/24'))).toBe(false);
    expect(cidrsOverlap(cidr('10.1.255.0/24'), cidr('10.1.0.0/16'))).toBe(true);
    // Ranges sharing a single address at their edges still overlap.
    expect(cidrsOverlap(cidr('10.1.0.255/32'), cidr('10.1.0.0/24'))).toBe(true);
    expect(cidrsOverlap(cidr('10.1.0.0/24'), cidr('10.1.0.0/32'))).toBe(true);
    expect(cidrsOverlap(cidr('10.1.0.0/16'), cidr('10.1.0.0/16'))).toBe(true);
  });
});

describe('checkClusterCidr', () => {
  it.each(['10.0.0.0/16', '10.255.255.0/24', '172.16.0.0/16', '172.31.0.0/20', '192.168.0.0/16', '192.168.42.0/24'])(
    'accepts %s',
    (text) => {
      expect(checkClusterCidr(text)).toEqual([]);
    },
  );

  it('reports 0.0.0.0/0 as both too large and not private', () => {
    expect(codes('0.0.0.0/0')).toEqual(['CidrPrefixOutOfRange', 'CidrNotPrivate']);
  });

  it('refuses 10.0.0.0/8 as too large', () => {
    expect(checkClusterCidr('10.0.0.0/8')).toEqual([
      {
        code: 'CidrPrefixOutOfRange',
        message: 'must have a prefix length from /16 to /24; got /8, a larger range than a cluster network allows',
      },
    ]);
  });

  it('refuses /25 as too small', () => {
    expect(checkClusterCidr('10.0.0.0/25')[0]?.message).toBe(
      'must have a prefix length from /16 to /24; got /25, fewer addresses than a cluster needs',
    );
  });

  it.each(['172.32.0.0/16', '172.15.0.0/16', '11.0.0.0/16', '192.169.0.0/16', '8.8.8.0/24', '100.64.0.0/16'])(
    'refuses %s as not private',
    (text) => {
      const problems = checkClusterCidr(text);
      expect(problems.map((p) => p.code)).toEqual(['CidrNotPrivate']);
      expect(problems[0]?.message).toBe(`must lie inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16); ${text} does not`);
    },
  );

  it('refuses a range that starts private but spills out of it', () => {
    expect(codes('192.168.0.0/15')).toEqual(['CidrPrefixOutOfRange', 'CidrNotPrivate']);
  });

  it('reports host bits together with the other problems', () => {
    expect(codes('172.31.1.0/12')).toEqual(['CidrHostBitsSet', 'CidrPrefixOutOfRange']);
  });

  it('says host bits must be zero and suggests the network', () => {
    expect(checkClusterCidr('10.1.2.0/16')).toEqual([
      {
        code: 'CidrHostBitsSet',
        message: 'must have all host bits zero: 10.1.2.0/16 has bits set after the first 16; did you mean 10.1.0.0/16?',
      },
    ]);
  });

  it('stops at a syntax error', () => {
    expect(codes('10.1.0.0/33')).toEqual(['InvalidCidr']);
  });
});

describe('findCidrOverlaps', () => {
  const others = [
    { resourceId: '/subscriptions/s/resourceGroups/rg/providers/HCS.Consul/clusters/a', cidr: '10.1.0.0/16' },
    { resourceId: '/subscriptions/s/resourceGroups/rg/providers/HCS.Consul/clusters/b', cidr: '10.2.0.0/16' },
    { resourceId: '/subscriptions/s/resourceGroups/rg/providers/HCS.Consul/clusters/legacy', cidr: 'garbage' },
  ];

  it('names the clusters whose ranges overlap', () => {
    expect(findCidrOverlaps('10.1.128.0/24', others)).toEqual([others[0]]);
    expect(findCidrOverlaps('10.0.0.0/8', others)).toEqual([others[0], others[1]]);
    expect(findCidrOverlaps('10.3.0.0/16', others)).toEqual([]);
  });

  it('skips the cluster itself and unparsable input', () => {
    expect(findCidrOverlaps('10.1.0.0/16', others, (id) => id.endsWith('/a'))).toEqual([]);
    expect(findCidrOverlaps('nonsense', others)).toEqual([]);
  });
});
