// The worker's `dns` configuration: both kinds parse, the azure kind defaults to the public
// cloud's Resource Manager, and a config naming the stack's ARM twin writes records there through
// the same SDK client production uses (credential from the config, the twin as authority).
import { DnsManagementClient } from '@azure/arm-dns';
import { ResourceManagementClient } from '@azure/arm-resources';
import { ClientSecretCredential } from '@azure/identity';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { buildDnsRecords, lifecycleConfigSchema } from './lifecycle-config.js';

const dnsSchema = lifecycleConfigSchema.shape.dns;
const secrets = mkdtempSync(join(tmpdir(), 'hcs-dns-config-'));
afterAll(() => rmSync(secrets, { recursive: true, force: true }));

describe('dns configuration', () => {
  it('parses both kinds and refuses an unknown one', () => {
    expect(
      dnsSchema.parse({
        kind: 'challtestsrv',
        managementUrl: 'http://127.0.0.1:8055',
        dnsServer: '127.0.0.1:8053',
        zone: 'consul.hcs.test',
      }).kind,
    ).toBe('challtestsrv');
    // Without its DNS server the owners of records could not be read back.
    expect(dnsSchema.safeParse({ kind: 'challtestsrv', managementUrl: 'http://127.0.0.1:8055', zone: 'consul.hcs.test' }).success).toBe(
      false,
    );
    const azure = dnsSchema.parse({
      kind: 'azure',
      subscriptionId: randomUUID(),
      resourceGroup: 'dns',
      zone: 'consul.example.com',
      tenantId: randomUUID(),
      clientId: randomUUID(),
    });
    expect(azure).toMatchObject({ kind: 'azure', armEndpoint: 'https://management.azure.com' });
    expect(dnsSchema.safeParse({ kind: 'route53', zone: 'x.test' }).success).toBe(false);
    expect(dnsSchema.safeParse({ kind: 'azure', zone: 'x.test', resourceGroup: 'dns' }).success).toBe(false);
  });

  it('an azure config pointed at the twin writes A records there', async () => {
    const cloud = inject('stack').cloud;
    const credential = new ClientSecretCredential(cloud.tenantId, cloud.clientId, cloud.clientSecret, {
      authorityHost: cloud.url,
      disableInstanceDiscovery: true,
    });
    const rg = `dns-config-${randomUUID().slice(0, 8)}`;
    const zone = `${rg}.example.test`;
    await new ResourceManagementClient(credential, cloud.subscriptionId, { endpoint: cloud.url }).resourceGroups.createOrUpdate(rg, {
      location: 'eastus',
    });
    const sdk = new DnsManagementClient(credential, cloud.subscriptionId, { endpoint: cloud.url });
    await sdk.zones.createOrUpdate(rg, zone, { location: 'global' });

    // The client secret is a file (owner-only), as every secret of the configuration.
    const clientSecretFile = join(secrets, 'dns-client-secret');
    writeFileSync(clientSecretFile, cloud.clientSecret, { mode: 0o600 });
    const records = buildDnsRecords(
      dnsSchema.parse({
        kind: 'azure',
        subscriptionId: cloud.subscriptionId,
        resourceGroup: rg,
        zone,
        armEndpoint: `${cloud.url}/`,
        tenantId: cloud.tenantId,
        clientId: cloud.clientId,
        clientSecretFile,
        authorityHost: cloud.url,
      }),
    );
    const owner = { clusterId: 'c'.repeat(32) };
    await records.setA(`c1.${zone}`, ['10.9.8.7'], owner);
    expect((await sdk.recordSets.get(rg, zone, 'c1', 'A')).aRecords).toEqual([{ ipv4Address: '10.9.8.7' }]);
    await records.clearA(`c1.${zone}`, owner);
    await expect(sdk.recordSets.get(rg, zone, 'c1', 'A')).rejects.toMatchObject({ statusCode: 404 });
    await new ResourceManagementClient(credential, cloud.subscriptionId, { endpoint: cloud.url }).resourceGroups.beginDelete(rg);
  });
});
