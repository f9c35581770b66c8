// DNS records in an Azure DNS zone through the official SDK: production writes to Azure DNS, and
// locally the same code writes to the ARM twin (apps/local-cloud), which serves dnsZones and their
// A and TXT record sets over ARM's REST protocol.
import type { DnsManagementClient } from '@azure/arm-dns';
import type { DnsRecords } from './dns.js';

export interface AzureDnsOptions {
  client: DnsManagementClient;
  resourceGroup: string;
  /** The zone's name, e.g. `consul.example.com` (a trailing dot is ignored). */
  zone: string;
}

/** TTL of the records written (seconds): short, since addresses change with the cluster. */
export const AZURE_DNS_TTL = 60;

export function azureDnsRecords(o: AzureDnsOptions): DnsRecords {
  const zone = trimDot(o.zone);
  const { client, resourceGroup } = o;
  const name = (fqdn: string) => relativeName(fqdn, zone);
  const remove = async (fqdn: string, type: 'A' | 'TXT') => {
    const relative = name(fqdn);
    try {
      await client.recordSets.delete(resourceGroup, zone, relative, type);
    } catch (err) {
      // Already gone is what we wanted. A missing zone or group is a configuration error, not that.
      const code = (err as { code?: string }).code;
      if (statusOf(err) !== 404 || code === 'ParentResourceNotFound' || code === 'ResourceGroupNotFound') throw err;
    }
  };
  return {
    setA: async (fqdn, addresses) => {
      const relative = name(fqdn);
      if (addresses.length === 0) throw new Error(`setA ${fqdn}: no addresses given (use clearA to remove the record set)`);
      await client.recordSets.createOrUpdate(resourceGroup, zone, relative, 'A', {
        ttl: AZURE_DNS_TTL,
        aRecords: addresses.map((ipv4Address) => ({ ipv4Address })),
      });
    },
    clearA: (fqdn) => remove(fqdn, 'A'),
    // ACME DNS-01: the key authorization digest is one TXT string (Azure splits long ones itself).
    setTxt: async (fqdn, value) => {
      const relative = name(fqdn);
      await client.recordSets.createOrUpdate(resourceGroup, zone, relative, 'TXT', {
        ttl: AZURE_DNS_TTL,
        txtRecords: [{ value: [value] }],
      });
    },
    clearTxt: (fqdn) => remove(fqdn, 'TXT'),
  };
}

/** The record set name of `fqdn` relative to `zone` ('@' for the apex); throws when outside it. */
export function relativeName(fqdn: string, zone: string): string {
  const f = trimDot(fqdn);
  const z = trimDot(zone);
  if (f.toLowerCase() === z.toLowerCase()) return '@';
  if (!f.toLowerCase().endsWith(`.${z.toLowerCase()}`) || f.length === z.length + 1) {
    throw new Error(`DNS name '${fqdn}' is not inside the Azure DNS zone '${zone}'`);
  }
  return f.slice(0, f.length - z.length - 1);
}

function trimDot(s: string): string {
  return s.endsWith('.') ? s.slice(0, -1) : s;
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}
