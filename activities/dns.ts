// DNS records of each cluster's endpoint name. Production writes to an Azure DNS zone; locally
// challtestsrv is the authoritative server Pebble resolves through, so DNS-01 challenges and
// the cluster's A records really resolve. lookupA asks a given server directly (tests, checks).
import { Resolver } from 'node:dns/promises';
import type { DnsProvider } from './acme.js';

export interface DnsRecords extends DnsProvider {
  setA(fqdn: string, addresses: string[]): Promise<void>;
  clearA(fqdn: string): Promise<void>;
}

/** challtestsrv's management API (local development and tests). */
export function challtestsrvRecords(managementUrl: string, post: (url: string, body: string) => Promise<number>): DnsRecords {
  const call = async (path: string, body: object) => {
    const status = await post(`${managementUrl}${path}`, JSON.stringify(body));
    if (status !== 200) throw new Error(`DNS server refused ${path} (HTTP ${status})`);
  };
  const host = (fqdn: string) => (fqdn.endsWith('.') ? fqdn : `${fqdn}.`);
  return {
    setTxt: (fqdn, value) => call('/set-txt', { host: host(fqdn), value }),
    clearTxt: (fqdn) => call('/clear-txt', { host: host(fqdn) }),
    setA: (fqdn, addresses) => call('/add-a', { host: host(fqdn), addresses }),
    clearA: (fqdn) => call('/clear-a', { host: host(fqdn) }),
  };
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
