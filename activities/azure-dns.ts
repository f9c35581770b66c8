// DNS records in an Azure DNS zone through the official SDK: production writes to Azure DNS, and
// locally the same code writes to the ARM twin (apps/local-cloud), which serves dnsZones and their
// A and TXT record sets over ARM's REST protocol. A cluster's A record set carries its id in the
// record set's metadata (`hcs-cluster-id`), and a record set that carries another cluster's id is
// never overwritten or removed; the write is conditional on the record set read (ETag), so the
// check and the write cannot be split by another writer.
import type { DnsManagementClient, RecordSet } from '@azure/arm-dns';
import { claim, CLUSTER_ID_TAG, ownership } from './cluster-names.js';
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
  /** The A record set of `fqdn`, undefined when there is none. */
  const readA = async (fqdn: string): Promise<RecordSet | undefined> => {
    try {
      return await client.recordSets.get(resourceGroup, zone, name(fqdn), 'A');
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (statusOf(err) !== 404 || code === 'ParentResourceNotFound' || code === 'ResourceGroupNotFound') throw err;
      return undefined;
    }
  };
  const ownerOf = (set: RecordSet | undefined) => (set ? (set.metadata?.[CLUSTER_ID_TAG] ?? null) : undefined);
  return {
    ownerOf: async (fqdn) => ownerOf(await readA(fqdn)),
    setA: async (fqdn, addresses, owner) => {
      const relative = name(fqdn);
      if (addresses.length === 0) throw new Error(`setA ${fqdn}: no addresses given (use clearA to remove the record set)`);
      const current = await readA(fqdn);
      claim(`the DNS name ${fqdn}`, ownerOf(current), owner);
      await client.recordSets.createOrUpdate(
        resourceGroup,
        zone,
        relative,
        'A',
        {
          ttl: AZURE_DNS_TTL,
          metadata: { ...current?.metadata, [CLUSTER_ID_TAG]: owner.clusterId },
          aRecords: addresses.map((ipv4Address) => ({ ipv4Address })),
        },
        current?.etag ? { ifMatch: current.etag } : { ifNoneMatch: '*' },
      );
    },
    clearA: async (fqdn, owner) => {
      if (ownership(ownerOf(await readA(fqdn)), owner) === 'foreign') return 'foreign';
      await remove(fqdn, 'A');
      return 'removed';
    },
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
