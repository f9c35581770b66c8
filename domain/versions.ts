// Consul version catalogue and upgrade policy. Versions are plain MAJOR.MINOR.PATCH: we only
// offer released open-source builds, so pre-release and build tags are deliberately refused.
import { detail, type ErrorDetail, describeValue } from './errors.js';

export interface SemVer {
  major: number;
  minor: number;
  patch: number;
}

export type VersionStatus = 'AVAILABLE' | 'RECOMMENDED' | 'PREVIEW';

export interface CatalogueEntry {
  version: string;
  status: VersionStatus;
}

export type UpgradeKind = 'patch' | 'minor' | 'major' | 'downgrade' | 'same';

export interface UpgradePolicy {
  automaticPatchUpgrades: boolean;
}

export interface UpgradeTarget extends CatalogueEntry {
  kind: Exclude<UpgradeKind, 'downgrade' | 'same'>;
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
export const VERSION_FORMAT = 'a version MAJOR.MINOR.PATCH such as "1.16.2"';

export function parseVersion(text: string): SemVer | undefined {
  const match = SEMVER.exec(text);
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1).map(Number) as [number, number, number];
  if (![major, minor, patch].every(Number.isSafeInteger)) return undefined;
  return { major, minor, patch };
}

export function formatVersion(version: SemVer): string {
  return `${version.major}.${version.minor}.${version.patch}`;
}

export function compareVersions(a: SemVer, b: SemVer): number {
  return Math.sign(a.major - b.major || a.minor - b.minor || a.patch - b.patch);
}

/** Throws RangeError on malformed input: callers validate user input before classifying. */
export function classifyUpgrade(from: string, to: string): UpgradeKind {
  const a = mustParse(from);
  const b = mustParse(to);
  const order = compareVersions(a, b);
  if (order === 0) return 'same';
  if (order > 0) return 'downgrade';
  if (a.major !== b.major) return 'major';
  if (a.minor !== b.minor) return 'minor';
  return 'patch';
}

/** Any status counts: PREVIEW is for customers who choose it explicitly. */
export function isVersionAllowed(version: string, catalogue: readonly CatalogueEntry[]): boolean {
  return parseVersion(version) !== undefined && catalogue.some((entry) => entry.version === version);
}

/** Catalogue entries newer than `current`, oldest first, each with the kind of upgrade it is. */
export function listUpgradeTargets(current: string, catalogue: readonly CatalogueEntry[]): UpgradeTarget[] {
  const from = mustParse(current);
  const targets: UpgradeTarget[] = [];
  for (const entry of sortedCatalogue(catalogue)) {
    const kind = classifyUpgrade(formatVersion(from), entry.version);
    if (kind === 'patch' || kind === 'minor' || kind === 'major') targets.push({ ...entry, kind });
  }
  return targets;
}

/**
 * The version an unattended upgrade may move to: the newest non-PREVIEW patch of the same
 * minor. Minor and major upgrades change behaviour and always need the customer's request.
 */
export function automaticUpgradeTarget(current: string, catalogue: readonly CatalogueEntry[], policy: UpgradePolicy): string | undefined {
  if (!policy.automaticPatchUpgrades) return undefined;
  const candidates = listUpgradeTargets(current, catalogue).filter((entry) => entry.kind === 'patch' && entry.status !== 'PREVIEW');
  return candidates.at(-1)?.version;
}

/** The version new clusters get when the customer has no preference: newest RECOMMENDED, else newest AVAILABLE. */
export function defaultVersion(catalogue: readonly CatalogueEntry[]): string | undefined {
  const sorted = sortedCatalogue(catalogue);
  const pick = (status: VersionStatus) => sorted.filter((entry) => entry.status === status).at(-1)?.version;
  return pick('RECOMMENDED') ?? pick('AVAILABLE');
}

/** Problems with a customer's upgrade request (the `upgrade` action), empty when it may proceed. */
export function checkUpgradeRequest(
  current: string,
  requested: string,
  catalogue: readonly CatalogueEntry[],
  target = 'consulVersion',
): ErrorDetail[] {
  if (parseVersion(requested) === undefined) {
    return [detail('InvalidConsulVersion', `${target} must be ${VERSION_FORMAT}; got ${describeValue(requested)}`, target)];
  }
  if (!isVersionAllowed(requested, catalogue)) {
    return [
      detail(
        'UnsupportedConsulVersion',
        `${target} ${requested} is not offered; supported versions: ${sortedCatalogue(catalogue)
          .map((entry) => entry.version)
          .join(', ')}`,
        target,
      ),
    ];
  }
  const kind = classifyUpgrade(current, requested);
  if (kind === 'same') {
    return [detail('ConsulVersionUnchanged', `${target} ${requested} is already the cluster's version`, target)];
  }
  if (kind === 'downgrade') {
    return [
      detail(
        'ConsulDowngradeNotAllowed',
        `${target} ${requested} is older than the cluster's version ${current}; Consul cannot be downgraded in place, restore a snapshot into a new cluster instead`,
        target,
      ),
    ];
  }
  return [];
}

/** Valid entries ordered oldest to newest; malformed entries are ignored rather than fatal. */
export function sortedCatalogue(catalogue: readonly CatalogueEntry[]): CatalogueEntry[] {
  return catalogue
    .map((entry) => ({ entry, parsed: parseVersion(entry.version) }))
    .filter((x): x is { entry: CatalogueEntry; parsed: SemVer } => x.parsed !== undefined)
    .sort((x, y) => compareVersions(x.parsed, y.parsed))
    .map((x) => x.entry);
}

function mustParse(text: string): SemVer {
  const parsed = parseVersion(text);
  if (!parsed) throw new RangeError(`Consul version must be ${VERSION_FORMAT}; got ${describeValue(text)}`);
  return parsed;
}

/**
 * The Consul version a cluster runs: what its servers last reported (after an upgrade), else the
 * version its spec asked for at create.
 */
export function runningConsulVersion(c: {
  status: { currentConsulVersion?: string | undefined };
  spec: { properties: { consulVersion: string } };
}): string {
  return c.status.currentConsulVersion ?? c.spec.properties.consulVersion;
}
