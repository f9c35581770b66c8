// DNS records of each cluster's endpoint name. Production writes to an Azure DNS zone; locally
// challtestsrv is the authoritative server Pebble resolves through, so DNS-01 challenges and
// the cluster's A records really resolve. lookupA asks a given server directly (tests, checks).
// A cluster's A records carry its id (Azure: record-set metadata; challtestsrv, which has no
// metadata: a TXT record `_hcs-owner.<name>`), and records that carry another cluster's id are
// never overwritten or removed.
import { Resolver } from 'node:dns/promises';
import type { DnsProvider } from './acme.js';
import { claim, CLUSTER_ID_TAG, type Owner, ownership } from './cluster-names.js';

export interface DnsRecords extends DnsProvider {
  /** The cluster id marked on `fqdn`'s A records: undefined when there are none, null when they carry none. */
  ownerOf(fqdn: string): Promise<string | null | undefined>;
  /** Writes `fqdn`'s A records marked as `owner`'s; refuses (DerivedNameOwnedByAnotherCluster) records another cluster owns. */
  setA(fqdn: string, addresses: string[], owner: Owner): Promise<void>;
  /** Removes `fqdn`'s A records and their mark, unless another cluster owns them ('foreign': left alone). */
  clearA(fqdn: string, owner: Owner): Promise<'removed' | 'foreign'>;
}

/** The TXT record that marks a name's owner where records have no metadata (challtestsrv). */
export const ownerRecordName = (fqdn: string) => `_hcs-owner.${fqdn.replace(/\.$/, '')}`;
const OWNER_VALUE = new RegExp(`^${CLUSTER_ID_TAG}=([0-9a-f]+)$`);

/** challtestsrv's management API (local development and tests); `dnsServer` (host:port) answers its records. */
export function challtestsrvRecords(
  managementUrl: string,
  post: (url: string, body: string) => Promise<number>,
  dnsServer: string,
): DnsRecords {
  const call = async (path: string, body: object) => {
    const status = await post(`${managementUrl}${path}`, JSON.stringify(body));
    if (status !== 200) throw new Error(`DNS server refused ${path} (HTTP ${status})`);
  };
  const host = (fqdn: string) => (fqdn.endsWith('.') ? fqdn : `${fqdn}.`);
  const ownerOf = async (fqdn: string): Promise<string | null | undefined> => {
    const marks = (await lookupTxt(dnsServer, ownerRecordName(fqdn))).map((v) => OWNER_VALUE.exec(v)?.[1]).filter(Boolean);
    if (marks.length) return marks[0]!;
    return (await lookupA(dnsServer, fqdn)).length ? null : undefined;
  };
  return {
    setTxt: (fqdn, value) => call('/set-txt', { host: host(fqdn), value }),
    clearTxt: (fqdn) => call('/clear-txt', { host: host(fqdn) }),
    ownerOf,
    setA: async (fqdn, addresses, owner) => {
      claim(`the DNS name ${fqdn}`, await ownerOf(fqdn), owner);
      // The mark first: a crash in between leaves a marked name, never unmarked records.
      await call('/clear-txt', { host: host(ownerRecordName(fqdn)) });
      await call('/set-txt', { host: host(ownerRecordName(fqdn)), value: `${CLUSTER_ID_TAG}=${owner.clusterId}` });
      // challtestsrv adds to a name's addresses: clear first so the set is exactly `addresses`.
      await call('/clear-a', { host: host(fqdn) });
      await call('/add-a', { host: host(fqdn), addresses });
    },
    clearA: async (fqdn, owner) => {
      if (ownership(await ownerOf(fqdn), owner) === 'foreign') return 'foreign';
      await call('/clear-a', { host: host(fqdn) });
      await call('/clear-txt', { host: host(ownerRecordName(fqdn)) });
      return 'removed';
    },
  };
}

/** The TXT values of `fqdn` as the server at `server` (host:port) answers them; [] when none. */
export async function lookupTxt(server: string, fqdn: string): Promise<string[]> {
  const r = new Resolver({ timeout: 2_000, tries: 2 });
  r.setServers([server]);
  try {
    return (await r.resolveTxt(fqdn)).map((chunks) => chunks.join(''));
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOTFOUND' || (err as { code?: string }).code === 'ENODATA') return [];
    throw err;
  }
}

/** The A records of `fqdn` as the server at `server` (host:port) answers them; [] when none. */
export async function lookupA(server: string, fqdn: string): Promise<string[]> {
  const r = new Resolver({ timeout: 2_000, tries: 2 });
  r.setServers([server]);
  try {
    return (await r.resolve4(fqdn)).sort();
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOTFOUND' || (err as { code?: string }).code === 'ENODATA') return [];
    throw err;
  }
}
