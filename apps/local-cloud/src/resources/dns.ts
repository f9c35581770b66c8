// Microsoft.Network/dnsZones (public zones) and their A and TXT record sets, synchronous as in
// Azure DNS's record-set API. Shapes follow the 2018-05-01 API @azure/arm-dns speaks: zones are
// `location: "global"` with numberOfRecordSets and nameServers; record sets carry `properties.TTL`,
// `ARecords: [{ ipv4Address }]`, `TXTRecords: [{ value: [string] }]` and a read-only `fqdn`.
// Record sets are stored as their own records under the zone's id, so deleting the zone or its
// resource group removes them with it.
import { randomUUID } from 'node:crypto';
import { isIPv4 } from 'node:net';
import {
  bodyObject,
  checkLocation,
  checkPreconditions,
  checkTags,
  objectField,
  type ResourceView,
  type Services,
  systemData,
  type TypeHandler,
} from '../context.js';
import { badRequest } from '../errors.js';
import type { ResourceRecord } from '../state.js';

export const DNS_ZONE_TYPE = 'Microsoft.Network/dnsZones';
export const DNS_A_TYPE = 'Microsoft.Network/dnsZones/A';
export const DNS_TXT_TYPE = 'Microsoft.Network/dnsZones/TXT';

/** Azure's default limits for a public zone. */
const MAX_RECORD_SETS = 10_000;
const MAX_RECORDS_PER_SET = 20;
const MAX_TTL = 2_147_483_647;
const MAX_TXT_LENGTH = 1024;

/** Every record-set property Azure knows, by record type; only A and TXT are served here. */
const RECORD_PROPS: Record<string, string> = {
  A: 'ARecords',
  AAAA: 'AAAARecords',
  MX: 'MXRecords',
  NS: 'NSRecords',
  PTR: 'PTRRecords',
  SRV: 'SRVRecords',
  TXT: 'TXTRecords',
  CNAME: 'CNAMERecord',
  SOA: 'SOARecord',
  CAA: 'caaRecords',
};

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

export function dnsHandlers(s: Services): TypeHandler[] {
  const zoneView = (r: ResourceRecord): ResourceView => ({
    ...r,
    properties: {
      ...r.properties,
      numberOfRecordSets: s.store.under(r.id).filter((x) => x.type === DNS_A_TYPE || x.type === DNS_TXT_TYPE).length,
    },
  });

  const zone: TypeHandler = {
    type: DNS_ZONE_TYPE,
    read: (id) => {
      const r = s.store.get(id);
      return r?.type === DNS_ZONE_TYPE ? zoneView(r) : undefined;
    },
    list: (scope) => s.store.under(scope, DNS_ZONE_TYPE).map(zoneView),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      checkPreconditions(ctx, existing);
      const name = ref.names[0]!;
      checkZoneName(name);
      const body = bodyObject(ctx);
      const location = checkLocation(body, existing, name);
      if (location !== 'global') {
        throw badRequest(
          'LocationNotAvailableForResourceType',
          `The provided location '${String(body.location)}' is not available for resource type '${DNS_ZONE_TYPE}'. List of available regions for the resource type is 'global'.`,
          'location',
        );
      }
      const tags = checkTags(body);
      const props = objectField(body, 'properties');
      const zoneType = props.zoneType ?? 'Public';
      if (zoneType !== 'Public') {
        throw badRequest(
          'InvalidRequestContent',
          `Only public zones are served here; zoneType ${JSON.stringify(zoneType)} is not.`,
          'properties.zoneType',
        );
      }
      const record: ResourceRecord = {
        id,
        name,
        type: DNS_ZONE_TYPE,
        location: 'global',
        ...(tags ? { tags } : {}),
        etag: randomUUID(),
        properties: {
          maxNumberOfRecordSets: MAX_RECORD_SETS,
          maxNumberOfRecordsPerRecordSet: MAX_RECORDS_PER_SET,
          nameServers: existing?.properties.nameServers ?? nameServers(),
          zoneType: 'Public',
        },
        systemData: systemData(ctx.principal, existing),
      };
      s.store.put(record);
      return { status: existing ? 200 : 201, body: zoneView(record), headers: { ETag: record.etag! } };
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing) return { status: 204 };
      checkPreconditions(ctx, existing);
      for (const r of s.store.under(id)) delete s.store.state.resources[r.id.toLowerCase()];
      s.store.delete(id);
      return { status: 200 };
    },
  };

  return [zone, recordSetHandler(s, 'A', DNS_A_TYPE), recordSetHandler(s, 'TXT', DNS_TXT_TYPE)];
}

function recordSetHandler(s: Services, recordType: 'A' | 'TXT', type: string): TypeHandler {
  const prop = RECORD_PROPS[recordType]!;
  const view = (r: ResourceRecord): ResourceView => ({ ...r, properties: { ...r.properties } });
  return {
    type,
    read: (id) => {
      const r = s.store.get(id);
      return r?.type === type ? view(r) : undefined;
    },
    list: (scope) => s.store.under(scope, type).map(view),
    put: async (ref, id, ctx) => {
      const existing = s.store.get(id);
      checkPreconditions(ctx, existing);
      const name = ref.names[1]!;
      checkRecordSetName(name);
      const props = objectField(bodyObject(ctx), 'properties');
      for (const [t, p] of Object.entries(RECORD_PROPS)) {
        if (t !== recordType && props[p] !== undefined && props[p] !== null) {
          throw badRequest(
            'InvalidRequestContent',
            `A record set of type ${recordType} cannot hold ${t} records (properties.${p}).`,
            `properties.${p}`,
          );
        }
      }
      if (props.targetResource !== undefined && props.targetResource !== null && Object.keys(props.targetResource).length > 0) {
        throw badRequest(
          'InvalidRequestContent',
          'Alias record sets (properties.targetResource) are not served here.',
          'properties.targetResource',
        );
      }
      const ttl = props.TTL ?? 3600;
      if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 0 || ttl > MAX_TTL) {
        throw badRequest(
          'InvalidRequestContent',
          `properties.TTL must be an integer from 0 to ${MAX_TTL}; got ${JSON.stringify(ttl)}.`,
          'properties.TTL',
        );
      }
      const metadata = props.metadata ?? undefined;
      if (
        metadata !== undefined &&
        (typeof metadata !== 'object' || Array.isArray(metadata) || Object.values(metadata).some((v) => typeof v !== 'string'))
      ) {
        throw badRequest('InvalidRequestContent', 'properties.metadata must be an object of string values.', 'properties.metadata');
      }
      const records = recordType === 'A' ? checkARecords(props[prop]) : checkTxtRecords(props[prop]);
      const zone = s.store.get(id.split('/').slice(0, -2).join('/'))!;
      if (!existing && s.store.under(zone.id).length >= MAX_RECORD_SETS) {
        throw badRequest('QuotaExceeded', `The zone '${zone.name}' already holds the maximum of ${MAX_RECORD_SETS} record sets.`);
      }
      const record: ResourceRecord = {
        id,
        name,
        type,
        etag: randomUUID(),
        properties: {
          ...(metadata ? { metadata } : {}),
          TTL: ttl,
          fqdn: name === '@' ? `${zone.name}.` : `${name}.${zone.name}.`,
          provisioningState: 'Succeeded',
          targetResource: {},
          [prop]: records,
        },
      };
      s.store.put(record);
      return { status: existing ? 200 : 201, body: view(record), headers: { ETag: record.etag! } };
    },
    delete: async (_ref, id, ctx) => {
      const existing = s.store.get(id);
      if (!existing || existing.type !== type) return { status: 204 };
      checkPreconditions(ctx, existing);
      s.store.delete(id);
      return { status: 200 };
    },
  };
}

function checkARecords(raw: unknown): { ipv4Address: string }[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw badRequest('InvalidRequestContent', 'properties.ARecords must list at least one record.', 'properties.ARecords');
  }
  checkCount(raw, 'ARecords');
  const seen = new Set<string>();
  return raw.map((r: unknown, i) => {
    const ip = r && typeof r === 'object' ? (r as Record<string, unknown>).ipv4Address : undefined;
    if (typeof ip !== 'string' || !isIPv4(ip)) {
      throw badRequest(
        'InvalidRequestContent',
        `properties.ARecords[${i}].ipv4Address ${JSON.stringify(ip ?? null)} is not a valid IPv4 address.`,
        `properties.ARecords[${i}].ipv4Address`,
      );
    }
    if (seen.has(ip)) {
      throw badRequest('InvalidRequestContent', `properties.ARecords lists ${ip} twice.`, `properties.ARecords[${i}].ipv4Address`);
    }
    seen.add(ip);
    return { ipv4Address: ip };
  });
}

function checkTxtRecords(raw: unknown): { value: string[] }[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw badRequest('InvalidRequestContent', 'properties.TXTRecords must list at least one record.', 'properties.TXTRecords');
  }
  checkCount(raw, 'TXTRecords');
  return raw.map((r: unknown, i) => {
    const value = r && typeof r === 'object' ? (r as Record<string, unknown>).value : undefined;
    const target = `properties.TXTRecords[${i}].value`;
    if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string')) {
      throw badRequest('InvalidRequestContent', `${target} must be a non-empty array of strings.`, target);
    }
    const length = (value as string[]).reduce((n, v) => n + v.length, 0);
    if (length > MAX_TXT_LENGTH) {
      throw badRequest(
        'InvalidRequestContent',
        `${target} is ${length} characters long; a TXT record holds at most ${MAX_TXT_LENGTH}.`,
        target,
      );
    }
    return { value: [...(value as string[])] };
  });
}

function checkCount(raw: unknown[], prop: string): void {
  if (raw.length > MAX_RECORDS_PER_SET) {
    throw badRequest(
      'InvalidRequestContent',
      `properties.${prop} lists ${raw.length} records; a record set holds at most ${MAX_RECORDS_PER_SET}.`,
      `properties.${prop}`,
    );
  }
}

/** A zone name is a domain name of at least two labels, without the trailing dot. */
function checkZoneName(name: string): void {
  const labels = name.split('.');
  if (name.length > 253 || labels.length < 2 || !labels.every((l) => LABEL.test(l))) {
    throw badRequest(
      'InvalidRequestContent',
      `The zone name '${name}' is not a valid domain name: use at least two labels of letters, digits and hyphens, without a trailing dot.`,
    );
  }
}

/** A relative record set name: '@' for the apex, else labels, the first of which may be '*'. */
function checkRecordSetName(name: string): void {
  if (name === '@') return;
  const labels = name.split('.');
  const ok = name.length <= 253 && labels.every((l, i) => LABEL.test(l) || (i === 0 && l === '*') || /^_[a-z0-9-]{1,62}$/i.test(l));
  if (!ok) {
    throw badRequest(
      'InvalidRequestContent',
      `The record set name '${name}' is not valid: use '@' for the apex or dot-separated labels of letters, digits, hyphens (and a leading '_' or '*').`,
    );
  }
}

/** Four name servers shaped like Azure DNS's (ns1-0X.azure-dns.com. ...). */
function nameServers(): string[] {
  const n = String(1 + Math.floor(Math.random() * 9)).padStart(2, '0');
  return [`ns1-${n}.azure-dns.com.`, `ns2-${n}.azure-dns.net.`, `ns3-${n}.azure-dns.org.`, `ns4-${n}.azure-dns.info.`];
}
