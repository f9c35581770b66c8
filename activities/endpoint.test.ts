// The cluster's two DNS names through challtestsrv (the stack's authoritative DNS server), as the
// worker writes them: the private name `<label>.private.<zone>` holds every server's private
// address for every cluster; the endpoint name holds the servers' addresses, or for a public
// endpoint its public IP address once one is given (kept when a later call does not know it); both follow a change of the servers'
// addresses; another cluster's records under either name stop the whole call before anything
// is written; bad input is refused naming it; removeEndpoint clears both names.
import { MockActivityEnvironment } from '@temporalio/testing';
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { httpCall } from '../lib/http.js';
import { challtestsrvRecords, lookupA } from './dns.js';
import { createEndpointActivities } from './endpoint.js';

const stack = inject('stack');
const dns = challtestsrvRecords(
  stack.acme.dnsManagementUrl,
  async (url, body) => (await httpCall(url, { method: 'POST', body })).status,
  stack.acme.dnsAddress,
);
type Activities = ReturnType<typeof createEndpointActivities>;
let activities: Activities;

beforeAll(() => {
  activities = createEndpointActivities({
    db: { query: () => Promise.reject(new Error('a private cluster stores nothing')) } as never,
    secrets: { textIfStored: async () => undefined },
    cipher: { encrypt: () => Promise.reject(new Error('the stand-in cipher encrypts nothing')) },
    dns,
    acme: { directoryUrl: stack.acme.directoryUrl, contactEmail: 'sre@hcs.test' },
  });
});

function plan(o: Partial<ClusterPlan> = {}): ClusterPlan {
  const label = `ep-${randomUUID().slice(0, 8)}`;
  return {
    resourceKey: `/subscriptions/${randomUUID()}/resourcegroups/rg/providers/hcs.consul/clusters/${label}`,
    name: label,
    location: 'westeurope',
    datacenter: 'dc1',
    serverCount: 3,
    consulVersion: '1.22.0',
    cidr: '10.0.0.0/16',
    publicEndpoint: false,
    owner: { clusterId: randomBytes(16).toString('hex') },
    infraResourceGroup: `rg-${label}`,
    fqdn: `${label}.consul.hcs.test`,
    privateFqdn: `${label}.private.consul.hcs.test`,
    container: label,
    terraformState: label,
    ...o,
  };
}
const servers = (...addresses: string[]): ServerInfo[] =>
  addresses.map((address, index) => ({ index, name: `s${index}`, zone: '1', address }));
const ensure = (a: Parameters<Activities['ensureEndpoint']>[0]) =>
  new MockActivityEnvironment().run<[typeof a], Awaited<ReturnType<Activities['ensureEndpoint']>>, Activities['ensureEndpoint']>(
    (x) => activities.ensureEndpoint(x),
    a,
  );
const remove = (a: { plan: ClusterPlan }) =>
  new MockActivityEnvironment().run<[typeof a], void, Activities['removeEndpoint']>((x) => activities.removeEndpoint(x), a);
const resolve = (name: string) => lookupA(stack.acme.dnsAddress, name);

describe('ensureEndpoint and removeEndpoint on challtestsrv', () => {
  it("writes the private name for every cluster, follows the servers' new addresses, and removes both names", async () => {
    const p = plan();
    const out = await ensure({ plan: p, servers: servers('127.0.9.2', '127.0.9.3', '127.0.9.4') });
    expect(out).toEqual({ fqdn: p.fqdn, privateFqdn: p.privateFqdn, certificateNotAfter: null });
    expect(await resolve(p.privateFqdn!)).toEqual(['127.0.9.2', '127.0.9.3', '127.0.9.4']);
    expect(await resolve(p.fqdn)).toEqual(['127.0.9.2', '127.0.9.3', '127.0.9.4']);
    expect(await dns.ownerOf(p.privateFqdn!)).toBe(p.owner.clusterId);
    // A server came back at another address (or the cluster was scaled): exactly the new set.
    await ensure({ plan: p, servers: servers('127.0.9.7', '127.0.9.3', '127.0.9.4') });
    expect(await resolve(p.privateFqdn!)).toEqual(['127.0.9.3', '127.0.9.4', '127.0.9.7']);
    // A private cluster's endpoint name never takes a public IP, even when one is passed.
    await ensure({ plan: p, servers: servers('127.0.9.7', '127.0.9.3', '127.0.9.4'), publicIpAddress: '203.0.113.9' });
    expect(await resolve(p.fqdn)).toEqual(['127.0.9.3', '127.0.9.4', '127.0.9.7']);
    await remove({ plan: p });
    expect(await resolve(p.privateFqdn!)).toEqual([]);
    expect(await resolve(p.fqdn)).toEqual([]);
    expect(await dns.ownerOf(p.privateFqdn!)).toBeUndefined();
  });

  it('a plan recorded before privateFqdn existed gets the name derived from its fqdn', async () => {
    const { privateFqdn, ...old } = plan();
    const out = await ensure({ plan: old, servers: servers('127.0.9.5') });
    expect(out.privateFqdn).toBe(privateFqdn);
    expect(await resolve(privateFqdn!)).toEqual(['127.0.9.5']);
    await remove({ plan: old });
    expect(await resolve(privateFqdn!)).toEqual([]);
  });

  it("points a public endpoint's name at the public IP address when given, and leaves it there when not", async () => {
    const p = plan({ publicEndpoint: true });
    // Without a public IP (a call that does not know it): the endpoint name is left as it is,
    // never pointed at the servers, whose HTTPS is not the public endpoint. The certificate order
    // comes after the records and is not what this test is about: it stops at the stand-in
    // cipher (keeping the new ACME account key).
    const order = 'the stand-in cipher encrypts nothing';
    await expect(ensure({ plan: p, servers: servers('127.0.9.8', '127.0.9.9') })).rejects.toThrow(order);
    expect(await resolve(p.fqdn)).toEqual([]);
    await expect(ensure({ plan: p, servers: servers('127.0.9.8', '127.0.9.9'), publicIpAddress: '203.0.113.7' })).rejects.toThrow(order);
    expect(await resolve(p.fqdn)).toEqual(['203.0.113.7']);
    expect(await resolve(p.privateFqdn!)).toEqual(['127.0.9.8', '127.0.9.9']);
    // A later call without the address (a rotation, a repair) keeps it; the private name follows.
    await expect(ensure({ plan: p, servers: servers('127.0.9.10', '127.0.9.9') })).rejects.toThrow(order);
    expect(await resolve(p.fqdn)).toEqual(['203.0.113.7']);
    expect(await resolve(p.privateFqdn!)).toEqual(['127.0.9.10', '127.0.9.9']);
    await remove({ plan: p });
    expect(await resolve(p.fqdn)).toEqual([]);
    expect(await resolve(p.privateFqdn!)).toEqual([]);
  });

  it("refuses names another cluster holds before writing anything, and removes none of that cluster's records", async () => {
    const theirs = plan();
    await ensure({ plan: theirs, servers: servers('127.0.9.20') });
    // Ours derives the same private name (another cluster took it): nothing of ours is written.
    const ours = plan({ privateFqdn: theirs.privateFqdn! });
    await expect(ensure({ plan: ours, servers: servers('127.0.9.21') })).rejects.toMatchObject({
      type: 'DerivedNameOwnedByAnotherCluster',
      message: expect.stringContaining(`the DNS name ${theirs.privateFqdn}`),
    });
    expect(await resolve(ours.fqdn)).toEqual([]);
    expect(await resolve(theirs.privateFqdn!)).toEqual(['127.0.9.20']);
    await remove({ plan: ours });
    expect(await resolve(theirs.privateFqdn!)).toEqual(['127.0.9.20']);
    await remove({ plan: theirs });
    expect(await resolve(theirs.privateFqdn!)).toEqual([]);
  });

  it('refuses bad input naming it, and writes nothing', async () => {
    const p = plan({ publicEndpoint: true });
    await expect(ensure({ plan: p, servers: servers('127.0.9.30'), publicIpAddress: 'not-an-ip' })).rejects.toMatchObject({
      type: 'InvalidOperationInput',
      message: expect.stringContaining("publicIpAddress 'not-an-ip' is not an IPv4 address"),
    });
    await expect(ensure({ plan: p, servers: [] })).rejects.toMatchObject({ type: 'InvalidOperationInput' });
    expect(await resolve(p.fqdn)).toEqual([]);
    expect(await resolve(p.privateFqdn!)).toEqual([]);
  });
});
