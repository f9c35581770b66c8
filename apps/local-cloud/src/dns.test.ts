// Azure DNS zones and record sets on the twin, through the official @azure/arm-dns client and the
// control plane's own provider (activities/azure-dns.ts), plus the twin's input checks over raw HTTP.
import { DnsManagementClient } from '@azure/arm-dns';
import { ResourceManagementClient } from '@azure/arm-resources';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azureDnsRecords } from '../../../activities/azure-dns.js';
import { DERIVED_NAME_OWNED } from '../../../activities/cluster-names.js';
import type { DnsRecords } from '../../../activities/dns.js';
import { httpCall } from '../../../lib/http.js';
import { startTestCloud, type TestCloud } from './testing.js';

const RG = 'dns-rg';
const ZONE = 'consul.example.test';
/** The cluster the records are written for, and another one. */
const owner = { clusterId: 'a'.repeat(32) };
const intruder = { clusterId: 'b'.repeat(32) };

let t: TestCloud;
let sub: string;
let dns: DnsManagementClient;
let records: DnsRecords;
beforeAll(async () => {
  t = await startTestCloud();
  sub = t.cloud.subscriptionId;
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(RG, { location: 'eastus' });
  dns = new DnsManagementClient(t.credential, sub, t.clientOptions);
  records = azureDnsRecords({ client: dns, resourceGroup: RG, zone: ZONE });
});
afterAll(async () => {
  await t?.dispose();
});

const token = async () => (await t.credential.getToken('https://management.azure.com/.default')).token;
const zonePath = (zone = ZONE) => `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.Network/dnsZones/${zone}`;
const call = async (method: string, path: string, body?: unknown) => {
  const res = await httpCall(`${t.cloud.url}${path}${path.includes('?') ? '&' : '?'}api-version=2018-05-01`, {
    method,
    ca: t.cloud.caCertPem,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headers: { authorization: `Bearer ${await token()}`, 'content-type': 'application/json' },
  });
  return { status: res.status, body: res.body ? (JSON.parse(res.body) as Record<string, any>) : undefined };
};
const statusOf = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e: { statusCode?: number; code?: string }) => `${e.statusCode} ${e.code}`,
  );

describe('DNS zones', () => {
  it('creates a global zone with name servers, reads and lists it, and refuses other locations', async () => {
    const zone = await dns.zones.createOrUpdate(RG, ZONE, { location: 'global' });
    expect(zone).toMatchObject({
      id: zonePath(),
      name: ZONE,
      type: 'Microsoft.Network/dnsZones',
      location: 'global',
      numberOfRecordSets: 0,
      zoneType: 'Public',
    });
    expect(zone.nameServers).toHaveLength(4);
    const again = await dns.zones.createOrUpdate(RG, ZONE, { location: 'global' });
    expect(again.nameServers).toEqual(zone.nameServers);
    expect((await dns.zones.get(RG, ZONE)).name).toBe(ZONE);
    const listed = [];
    for await (const z of dns.zones.listByResourceGroup(RG)) listed.push(z.name);
    expect(listed).toEqual([ZONE]);

    const elsewhere = await call('PUT', zonePath('other.example.test'), { location: 'eastus' });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body?.error.code).toBe('LocationNotAvailableForResourceType');
    const badName = await call('PUT', zonePath('nodots'), { location: 'global' });
    expect(badName.status).toBe(400);
    expect(badName.body?.error.code).toBe('InvalidRequestContent');
    expect(await statusOf(dns.zones.get(RG, 'other.example.test'))).toBe('404 ResourceNotFound');
  });
});

describe('azureDnsRecords against the twin', () => {
  const fqdn = `c1.${ZONE}`;

  it('setA writes the record set and a second setA replaces it', async () => {
    await records.setA(fqdn, ['10.0.0.1', '10.0.0.2'], owner);
    await records.setA(fqdn, ['10.0.0.3'], owner);
    const rs = await dns.recordSets.get(RG, ZONE, 'c1', 'A');
    expect(rs).toMatchObject({ name: 'c1', type: 'Microsoft.Network/dnsZones/A', ttl: 60, fqdn: `${fqdn}.` });
    expect(rs.aRecords).toEqual([{ ipv4Address: '10.0.0.3' }]);
    expect(rs.metadata).toEqual({ 'hcs-cluster-id': owner.clusterId });
    expect(await records.ownerOf(fqdn)).toBe(owner.clusterId);
    expect((await dns.zones.get(RG, ZONE)).numberOfRecordSets).toBe(1);
  });

  it("neither overwrites nor removes another cluster's record set", async () => {
    const before = await dns.recordSets.get(RG, ZONE, 'c1', 'A');
    await expect(records.setA(fqdn, ['10.6.6.6'], intruder)).rejects.toMatchObject({ type: DERIVED_NAME_OWNED, nonRetryable: true });
    expect(await records.clearA(fqdn, intruder)).toBe('foreign');
    const after = await dns.recordSets.get(RG, ZONE, 'c1', 'A');
    expect(after).toEqual(before);
    // A record set without any mark (written before ids) is taken by the cluster whose name it is, and marked.
    await dns.recordSets.createOrUpdate(RG, ZONE, 'bare', 'A', { ttl: 60, aRecords: [{ ipv4Address: '10.7.7.7' }] });
    expect(await records.ownerOf(`bare.${ZONE}`)).toBeNull();
    await records.setA(`bare.${ZONE}`, ['10.7.7.8'], owner);
    expect(await records.ownerOf(`bare.${ZONE}`)).toBe(owner.clusterId);
    await expect(records.setA(`bare.${ZONE}`, ['10.6.6.6'], intruder)).rejects.toMatchObject({ type: DERIVED_NAME_OWNED });
    expect(await records.clearA(`bare.${ZONE}`, owner)).toBe('removed');
    expect(await records.ownerOf(`bare.${ZONE}`)).toBeUndefined();
  });

  it('setTxt writes the ACME value as one string, also under a trailing-dot name', async () => {
    await records.setTxt(`_acme-challenge.${fqdn}.`, 'x'.repeat(43));
    const rs = await dns.recordSets.get(RG, ZONE, '_acme-challenge.c1', 'TXT');
    expect(rs.txtRecords).toEqual([{ value: ['x'.repeat(43)] }]);
    expect(rs.fqdn).toBe(`_acme-challenge.${fqdn}.`);
    const txt = [];
    for await (const r of dns.recordSets.listByType(RG, ZONE, 'TXT')) txt.push(r.name);
    expect(txt).toEqual(['_acme-challenge.c1']);
  });

  it('clearA and clearTxt remove the record sets; clearing again is fine', async () => {
    await records.clearA(fqdn, owner);
    await records.clearTxt(`_acme-challenge.${fqdn}`);
    expect(await statusOf(dns.recordSets.get(RG, ZONE, 'c1', 'A'))).toBe('404 ResourceNotFound');
    expect(await statusOf(dns.recordSets.get(RG, ZONE, '_acme-challenge.c1', 'TXT'))).toBe('404 ResourceNotFound');
    await records.clearA(fqdn, owner);
    await records.clearTxt(`_acme-challenge.${fqdn}`);
    expect((await dns.zones.get(RG, ZONE)).numberOfRecordSets).toBe(0);
  });

  it('refuses a name outside the zone, naming both, and writes nothing', async () => {
    await expect(records.setA('c1.other.test', ['10.0.0.1'], owner)).rejects.toThrow(
      `DNS name 'c1.other.test' is not inside the Azure DNS zone '${ZONE}'`,
    );
    await expect(records.setTxt(`evil${ZONE}`, 'v')).rejects.toThrow(/not inside the Azure DNS zone/);
    await expect(records.clearA(`x.${ZONE}.example`, owner)).rejects.toThrow(/not inside the Azure DNS zone/);
    expect((await dns.zones.get(RG, ZONE)).numberOfRecordSets).toBe(0);
  });

  it('a record set in a missing zone is 404 ParentResourceNotFound, and clearing there is an error', async () => {
    const other = azureDnsRecords({ client: dns, resourceGroup: RG, zone: 'missing.example.test' });
    await expect(other.setA('a.missing.example.test', ['10.0.0.1'], owner)).rejects.toMatchObject({
      statusCode: 404,
      code: 'ParentResourceNotFound',
    });
    await expect(other.clearA('a.missing.example.test', owner)).rejects.toMatchObject({ statusCode: 404, code: 'ParentResourceNotFound' });
  });
});

describe('record set input checks', () => {
  const aPath = (name: string) => `${zonePath()}/A/${name}`;

  it('refuses a bad IPv4 address with 400 and stores nothing', async () => {
    const res = await call('PUT', aPath('bad'), { properties: { TTL: 60, ARecords: [{ ipv4Address: '999.1.1.1' }] } });
    expect(res.status).toBe(400);
    expect(res.body?.error).toMatchObject({
      code: 'InvalidRequestContent',
      message: expect.stringContaining('"999.1.1.1" is not a valid IPv4 address'),
      target: 'properties.ARecords[0].ipv4Address',
    });
    expect((await call('GET', aPath('bad'))).status).toBe(404);
  });

  it('refuses missing records, a bad TTL and records of another type', async () => {
    for (const [body, target] of [
      [{ properties: { TTL: 60 } }, 'properties.ARecords'],
      [{ properties: { TTL: 60, ARecords: [] } }, 'properties.ARecords'],
      [{ properties: { TTL: -1, ARecords: [{ ipv4Address: '10.0.0.1' }] } }, 'properties.TTL'],
      [{ properties: { TTL: 60, ARecords: [{ ipv4Address: '10.0.0.1' }], TXTRecords: [{ value: ['v'] }] } }, 'properties.TXTRecords'],
    ] as const) {
      const res = await call('PUT', aPath('bad'), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body?.error).toMatchObject({ code: 'InvalidRequestContent', target });
    }
    const txt = await call('PUT', `${zonePath()}/TXT/bad`, { properties: { TTL: 60, TXTRecords: [{ value: [] }] } });
    expect(txt.status).toBe(400);
    expect(txt.body?.error.target).toBe('properties.TXTRecords[0].value');
    expect((await call('GET', aPath('bad'))).status).toBe(404);
    expect((await call('GET', `${zonePath()}/TXT/bad`)).status).toBe(404);
  });

  it('answers 201 then 200 with ARM casing, DELETE 200 then 204', async () => {
    const body = { properties: { TTL: 300, ARecords: [{ ipv4Address: '10.1.2.3' }] } };
    const created = await call('PUT', aPath('raw'), body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: `${zonePath()}/A/raw`,
      name: 'raw',
      type: 'Microsoft.Network/dnsZones/A',
      properties: { TTL: 300, fqdn: `raw.${ZONE}.`, ARecords: [{ ipv4Address: '10.1.2.3' }], provisioningState: 'Succeeded' },
    });
    expect((await call('PUT', aPath('raw'), body)).status).toBe(200);
    expect((await call('DELETE', aPath('raw'))).status).toBe(200);
    expect((await call('DELETE', aPath('raw'))).status).toBe(204);
    const missing = await call('GET', aPath('raw'));
    expect(missing.status).toBe(404);
    expect(missing.body?.error.code).toBe('ResourceNotFound');
  });

  it('deleting the zone removes its record sets', async () => {
    await records.setA(`gone.${ZONE}`, ['10.0.0.9'], owner);
    await (await dns.zones.beginDelete(RG, ZONE)).pollUntilDone();
    expect(await statusOf(dns.zones.get(RG, ZONE))).toBe('404 ResourceNotFound');
    await dns.zones.createOrUpdate(RG, ZONE, { location: 'global' });
    expect(await statusOf(dns.recordSets.get(RG, ZONE, 'gone', 'A'))).toBe('404 ResourceNotFound');
  });
});
