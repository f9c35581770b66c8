// IPv4 CIDR rules for a cluster's virtual network. Parsing is strict on purpose: the range
// is written into Terraform, NSG rules and peering, and a lenient reading ("010" as octal by
// some tools, host bits silently dropped) would give the customer a network they did not ask for.
import { describeValue } from './errors.js';

export type CidrErrorCode = 'InvalidCidr' | 'CidrHostBitsSet' | 'CidrPrefixOutOfRange' | 'CidrNotPrivate' | 'CidrOverlap';

/** Messages start after the field name: the caller prefixes the JSON path of the field. */
export interface CidrProblem {
  code: CidrErrorCode;
  message: string;
}

export interface Ipv4Cidr {
  /** Network address as an unsigned 32-bit integer. */
  address: number;
  prefixLength: number;
}

export type CidrParseResult = { ok: true; cidr: Ipv4Cidr } | { ok: false; problem: CidrProblem };

export interface SubscriptionCidr {
  resourceId: string;
  cidr: string;
}

export const MIN_CLUSTER_PREFIX = 16;
export const MAX_CLUSTER_PREFIX = 24;

const PRIVATE_RANGES: readonly Ipv4Cidr[] = [
  { address: ipv4(10, 0, 0, 0), prefixLength: 8 },
  { address: ipv4(172, 16, 0, 0), prefixLength: 12 },
  { address: ipv4(192, 168, 0, 0), prefixLength: 16 },
];
const PRIVATE_RANGES_TEXT = '10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16';
const SHAPE = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/;
const EXAMPLE = 'an IPv4 CIDR such as "10.0.0.0/16"';

/**
 * Parses `a.b.c.d/n` without normalising anything away. Host bits are allowed here (they are
 * reported by `checkClusterCidr`) so the caller can suggest the intended network.
 */
export function parseIpv4Cidr(text: string): CidrParseResult {
  const match = SHAPE.exec(text);
  if (!match) return invalid(`must be ${EXAMPLE}; got ${describeValue(text)}`);
  const parts = match.slice(1);
  for (const part of parts) {
    if (part.length > 1 && part.startsWith('0')) {
      return invalid(
        `must be written without leading zeros (some tools read them as octal); ${describeValue(part)} in ${describeValue(text)}`,
      );
    }
  }
  const [a, b, c, d, prefix] = parts.map(Number) as [number, number, number, number, number];
  if ([a, b, c, d].some((octet) => octet > 255)) {
    return invalid(`must have octets from 0 to 255; got ${describeValue(text)}`);
  }
  if (prefix > 32) return invalid(`must have a prefix length from /0 to /32; got /${prefix}`);
  return { ok: true, cidr: { address: ipv4(a, b, c, d), prefixLength: prefix } };
}

export function formatIpv4(address: number): string {
  return [24, 16, 8, 0].map((shift) => (address >>> shift) & 0xff).join('.');
}

export function formatCidr(cidr: Ipv4Cidr): string {
  return `${formatIpv4(cidr.address)}/${cidr.prefixLength}`;
}

/** First and last address covered, as unsigned 32-bit integers. */
export function cidrRange(cidr: Ipv4Cidr): { first: number; last: number } {
  const mask = netmask(cidr.prefixLength);
  const first = (cidr.address & mask) >>> 0;
  return { first, last: (first | ~mask) >>> 0 };
}

export function cidrsOverlap(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return x.first <= y.last && y.first <= x.last;
}

export function cidrContains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
  const o = cidrRange(outer);
  const i = cidrRange(inner);
  return o.first <= i.first && i.last <= o.last;
}

export function isPrivateCidr(cidr: Ipv4Cidr): boolean {
  return PRIVATE_RANGES.some((range) => cidrContains(range, cidr));
}

/**
 * Every context-free problem with a cluster CIDR. Syntax errors stop there; otherwise host
 * bits, size and privacy are all reported so the customer fixes them in one go.
 */
export function checkClusterCidr(text: string): CidrProblem[] {
  const parsed = parseIpv4Cidr(text);
  if (!parsed.ok) return [parsed.problem];
  const { cidr } = parsed;
  const problems: CidrProblem[] = [];
  const network = { address: cidrRange(cidr).first, prefixLength: cidr.prefixLength };
  if (network.address !== cidr.address) {
    problems.push({
      code: 'CidrHostBitsSet',
      message: `must have all host bits zero: ${text} has bits set after the first ${cidr.prefixLength}; did you mean ${formatCidr(network)}?`,
    });
  }
  if (cidr.prefixLength < MIN_CLUSTER_PREFIX || cidr.prefixLength > MAX_CLUSTER_PREFIX) {
    const why =
      cidr.prefixLength < MIN_CLUSTER_PREFIX ? 'a larger range than a cluster network allows' : 'fewer addresses than a cluster needs';
    problems.push({
      code: 'CidrPrefixOutOfRange',
      message: `must have a prefix length from /${MIN_CLUSTER_PREFIX} to /${MAX_CLUSTER_PREFIX}; got /${cidr.prefixLength}, ${why}`,
    });
  }
  if (!isPrivateCidr(network)) {
    problems.push({
      code: 'CidrNotPrivate',
      message: `must lie inside a private range (${PRIVATE_RANGES_TEXT}); ${formatCidr(network)} does not`,
    });
  }
  return problems;
}

/**
 * Other clusters of the subscription whose range overlaps `text`. Records that do not parse
 * (legacy data) are skipped rather than blocking the customer; `isSelf` excludes the cluster
 * being updated.
 */
export function findCidrOverlaps(
  text: string,
  others: readonly SubscriptionCidr[],
  isSelf: (resourceId: string) => boolean = () => false,
): SubscriptionCidr[] {
  const parsed = parseIpv4Cidr(text);
  if (!parsed.ok) return [];
  return others.filter((other) => {
    if (isSelf(other.resourceId)) return false;
    const theirs = parseIpv4Cidr(other.cidr);
    return theirs.ok && cidrsOverlap(parsed.cidr, theirs.cidr);
  });
}

export function overlapProblem(text: string, other: SubscriptionCidr): CidrProblem {
  return {
    code: 'CidrOverlap',
    message: `${text} overlaps ${other.cidr} of cluster ${other.resourceId}; clusters in one subscription need distinct address ranges, choose one that does not overlap`,
  };
}

function invalid(message: string): CidrParseResult {
  return { ok: false, problem: { code: 'InvalidCidr', message } };
}

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function netmask(prefixLength: number): number {
  // Shifts are mod 32 in JavaScript, so /0 needs its own case.
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}
