// IPv4 prefix arithmetic for the network checks Azure makes (subnet inside its network, subnets
// not overlapping).

export interface Cidr {
  base: number;
  bits: number;
}

export function parseCidr(s: unknown): Cidr | undefined {
  if (typeof s !== 'string') return undefined;
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(s.trim());
  if (!m) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const bits = Number(m[5]);
  if (octets.some((o) => o > 255) || bits > 32) return undefined;
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const base = bits === 0 ? 0 : addr - (addr % 2 ** (32 - bits));
  // Azure refuses prefixes with host bits set ("10.0.0.1/24").
  if (base !== addr) return undefined;
  return { base, bits };
}

export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.bits >= outer.bits && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.base < b.base + size(b) && b.base < a.base + size(a);
}

function size(c: Cidr): number {
  return 2 ** (32 - c.bits);
}
