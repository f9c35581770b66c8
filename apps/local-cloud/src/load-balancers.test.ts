// Public IPs and Standard load balancers through the official @azure/arm-network client: the
// public IP gets a loopback address of its own pool, each load-balancing rule is a real TCP
// forwarder on it, probes take a dead backend out of rotation and bring it back, dangling
// references and in-use deletes are refused with nothing changed, a frontend that cannot listen
// fails the load balancer, and listeners end with the load balancer, its resource group, and come
// back after a twin restart. Backends are plain node TCP servers and real scale-set instances.
import { ComputeManagementClient } from '@azure/arm-compute';
import { type LoadBalancer, NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../devstack/supervisor.js';
import { startTestCloud, type TestCloud } from './testing.js';
import { probeInstanceCommand } from './testing-instance.js';

const RG = 'rg-lb';
const LOCATION = 'westeurope';
const poll = { updateIntervalInMs: 100 };
let t: TestCloud;
let sub: string;
let instancePort: number;

beforeAll(async () => {
  instancePort = await freePort();
  t = await startTestCloud({ instanceCommand: probeInstanceCommand(instancePort), retryAfterSeconds: 0 });
  sub = t.cloud.subscriptionId;
  await resources().resourceGroups.createOrUpdate(RG, { location: LOCATION });
});
afterAll(async () => {
  await t?.dispose();
});

const resources = () => new ResourceManagementClient(t.credential, sub, t.clientOptions);
const network = () => new NetworkManagementClient(t.credential, sub, t.clientOptions);
const compute = () => new ComputeManagementClient(t.credential, sub, t.clientOptions);
const lbId = (rg: string, lb: string) => `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.Network/loadBalancers/${lb}`;

async function publicIp(rg: string, name: string): Promise<{ id: string; ip: string }> {
  const pip = await network().publicIPAddresses.beginCreateOrUpdateAndWait(
    rg,
    name,
    { location: LOCATION, sku: { name: 'Standard', tier: 'Regional' }, zones: ['1', '2', '3'], publicIPAllocationMethod: 'Static' },
    poll,
  );
  return { id: pip.id!, ip: pip.ipAddress! };
}

/** One frontend on the public IP, one pool, a TCP probe (5 s, out after 1 failure), one rule. */
function balancer(
  rg: string,
  name: string,
  pipId: string,
  o: { backendPort: number; addresses?: string[]; frontendPort?: number; probe?: string },
): LoadBalancer {
  const id = lbId(rg, name);
  return {
    location: LOCATION,
    sku: { name: 'Standard', tier: 'Regional' },
    frontendIPConfigurations: [{ name: 'public', publicIPAddress: { id: pipId } }],
    backendAddressPools: [
      {
        name: 'servers',
        loadBalancerBackendAddresses: (o.addresses ?? []).map((ip, i) => ({ name: `b${i}`, ipAddress: ip })),
      },
    ],
    probes: [{ name: 'tcp', protocol: 'Tcp', port: o.backendPort, intervalInSeconds: 5, numberOfProbes: 1 }],
    loadBalancingRules: [
      {
        name: 'https',
        protocol: 'Tcp',
        frontendPort: o.frontendPort ?? 443,
        backendPort: o.backendPort,
        frontendIPConfiguration: { id: `${id}/frontendIPConfigurations/public` },
        backendAddressPool: { id: `${id}/backendAddressPools/servers` },
        probe: { id: `${id}/probes/${o.probe ?? 'tcp'}` },
        disableOutboundSnat: true,
        idleTimeoutInMinutes: 15,
      },
    ],
  };
}

/** Sends `text`, half-closes, and returns everything the far end wrote back. */
function exchange(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, allowHalfOpen: true }, () => socket.end(text));
    let data = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (c: Buffer) => (data += c.toString('utf8')));
    socket.on('end', () => resolve(data));
    socket.on('error', reject);
  });
}

/** A backend that answers each connection with its name and what it read. */
const open = new Set<Socket>();

async function echoBackend(name: string, host: string, port: number): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (c) => {
    open.add(c);
    c.on('close', () => open.delete(c));
    let got = '';
    c.on('data', (d: Buffer) => (got += d.toString('utf8')));
    c.on('end', () => c.end(`${name}|${got}`));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ host, port }, resolve));
  return server;
}

const stop = (server: Server) =>
  new Promise<void>((resolve) => {
    const { address } = server.address() as { address: string };
    server.close(() => resolve());
    for (const c of open) if (c.localAddress === address) c.destroy();
  });

async function health(rg: string, lb: string) {
  return network().loadBalancerLoadBalancingRules.beginHealthAndWait(rg, lb, 'https', poll);
}

async function until<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(v)}`);
    await delay(250);
  }
}

function connectError(host: string, port: number): Promise<string> {
  return exchange(host, port, 'x').then(
    () => 'connected',
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
}

describe('a load balancer over two plain TCP backends', () => {
  const B1 = '127.0.0.2';
  const B2 = '127.0.0.3';
  let backendPort: number;
  let backends: Server[];
  let pip: { id: string; ip: string };

  beforeAll(async () => {
    backendPort = await freePort();
    backends = [await echoBackend('b1', B1, backendPort), await echoBackend('b2', B2, backendPort)];
    pip = await publicIp(RG, 'lb-pip');
  });
  afterAll(async () => {
    for (const b of backends) await stop(b);
  });

  it('gives the public IP a static address from its own loopback pool, never an instance address', async () => {
    expect(pip.ip).toMatch(/^127\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.\d+$/);
    const again = await network().publicIPAddresses.get(RG, 'lb-pip');
    expect(again).toMatchObject({ ipAddress: pip.ip, provisioningState: 'Succeeded', publicIPAllocationMethod: 'Static' });
    expect(again.sku).toEqual({ name: 'Standard', tier: 'Regional' });
    expect(again.zones).toEqual(['1', '2', '3']);
  });

  it('forwards raw TCP from the frontend to both healthy backends, round-robin', async () => {
    const lb = await network().loadBalancers.beginCreateOrUpdateAndWait(
      RG,
      'lb',
      balancer(RG, 'lb', pip.id, { backendPort, addresses: [B1, B2] }),
      poll,
    );
    expect(lb.provisioningState).toBe('Succeeded');
    const id = lbId(RG, 'lb');
    expect(lb.backendAddressPools?.[0]?.id).toBe(`${id}/backendAddressPools/servers`);
    expect(lb.probes?.[0]).toMatchObject({ id: `${id}/probes/tcp`, loadBalancingRules: [{ id: `${id}/loadBalancingRules/https` }] });
    expect(lb.loadBalancingRules?.[0]).toMatchObject({ id: `${id}/loadBalancingRules/https`, frontendPort: 443, protocol: 'Tcp' });
    expect((await network().publicIPAddresses.get(RG, 'lb-pip')).ipConfiguration?.id).toBe(`${id}/frontendIPConfigurations/public`);
    expect((await network().loadBalancerBackendAddressPools.get(RG, 'lb', 'servers')).loadBalancerBackendAddresses?.length).toBe(2);

    // The first probe round ran before the write finished: both backends are in rotation.
    expect(await health(RG, 'lb')).toMatchObject({ up: 2, down: 0 });
    const answers = await Promise.all([1, 2, 3, 4].map((n) => exchange(pip.ip, 443, `hello ${n}`)));
    expect(answers.map((a) => a.split('|')[1])).toEqual(['hello 1', 'hello 2', 'hello 3', 'hello 4']);
    expect(answers.filter((a) => a.startsWith('b1|'))).toHaveLength(2);
    expect(answers.filter((a) => a.startsWith('b2|'))).toHaveLength(2);
  });

  it('takes a backend whose probe fails out of rotation, and brings it back after one success', async () => {
    await stop(backends[0]!);
    const down = await until(
      'b1 marked down',
      () => health(RG, 'lb'),
      (h) => h.down === 1,
    );
    const b1 = down.loadBalancerBackendAddresses?.find((b) => b.ipAddress === B1);
    expect(b1).toMatchObject({ state: 'Down', reason: expect.stringContaining('ECONNREFUSED') });
    const answers = await Promise.all([1, 2, 3, 4].map((n) => exchange(pip.ip, 443, `after ${n}`)));
    expect(answers.every((a) => a.startsWith('b2|'))).toBe(true);

    backends[0] = await echoBackend('b1', B1, backendPort);
    await until(
      'b1 back up',
      () => health(RG, 'lb'),
      (h) => h.up === 2,
    );
    const back = await Promise.all([1, 2].map((n) => exchange(pip.ip, 443, `back ${n}`)));
    expect(back.map((a) => a.split('|')[0]).sort()).toEqual(['b1', 'b2']);
  });

  it('refuses dangling references and a second load balancer on the same IP, creating nothing', async () => {
    const missingPip = `/subscriptions/${sub}/resourceGroups/${RG}/providers/Microsoft.Network/publicIPAddresses/nope`;
    const spare = await publicIp(RG, 'spare-pip');
    const cases: Array<[LoadBalancer, string]> = [
      [balancer(RG, 'bad', spare.id, { backendPort, probe: 'nope' }), `${lbId(RG, 'bad')}/probes/nope`],
      [balancer(RG, 'bad', missingPip, { backendPort }), missingPip],
    ];
    for (const [model, dangling] of cases) {
      await expect(network().loadBalancers.beginCreateOrUpdateAndWait(RG, 'bad', model, poll)).rejects.toMatchObject({
        statusCode: 400,
        code: 'InvalidResourceReference',
        message: expect.stringContaining(dangling),
      });
      await expect(network().loadBalancers.get(RG, 'bad')).rejects.toMatchObject({ statusCode: 404 });
    }
    const wrongPool = balancer(RG, 'bad', spare.id, { backendPort });
    wrongPool.loadBalancingRules![0]!.backendAddressPool = { id: `${lbId(RG, 'lb')}/backendAddressPools/servers` };
    await expect(network().loadBalancers.beginCreateOrUpdateAndWait(RG, 'bad', wrongPool, poll)).rejects.toMatchObject({
      code: 'InvalidResourceReference',
    });
    await expect(
      network().loadBalancers.beginCreateOrUpdateAndWait(RG, 'bad', balancer(RG, 'bad', pip.id, { backendPort }), poll),
    ).rejects.toMatchObject({ statusCode: 400, code: 'PublicIPAddressInUse' });
    await expect(network().loadBalancers.get(RG, 'bad')).rejects.toMatchObject({ statusCode: 404 });
    // Nothing points at the spare IP: it goes at once.
    expect((await network().publicIPAddresses.get(RG, 'spare-pip')).ipConfiguration).toBeUndefined();
    await network().publicIPAddresses.beginDeleteAndWait(RG, 'spare-pip', poll);
  });

  it('refuses to delete the public IP while the frontend uses it, changing nothing', async () => {
    await expect(network().publicIPAddresses.beginDeleteAndWait(RG, 'lb-pip', poll)).rejects.toMatchObject({
      statusCode: 400,
      code: 'PublicIPAddressInUseCannotBeDeleted',
    });
    expect(await network().publicIPAddresses.get(RG, 'lb-pip')).toMatchObject({ ipAddress: pip.ip, provisioningState: 'Succeeded' });
    expect((await exchange(pip.ip, 443, 'still')).endsWith('|still')).toBe(true);
  });

  it('serves the same address again after a twin restart', async () => {
    await t.restart();
    expect((await network().loadBalancers.get(RG, 'lb')).provisioningState).toBe('Succeeded');
    await until(
      'backends probed after the restart',
      () => health(RG, 'lb'),
      (h) => h.up === 2,
    );
    expect((await exchange(pip.ip, 443, 'restarted')).endsWith('|restarted')).toBe(true);
  });

  it('fails the load balancer, saying why, when its frontend cannot listen', async () => {
    const other = await publicIp(RG, 'busy-pip');
    const squatter = await echoBackend('squatter', other.ip, 8443);
    try {
      await expect(
        network().loadBalancers.beginCreateOrUpdateAndWait(
          RG,
          'busy',
          balancer(RG, 'busy', other.id, { backendPort, addresses: [B2], frontendPort: 8443 }),
          poll,
        ),
      ).rejects.toThrow(new RegExp(`LoadBalancerFrontendNotListening.*${other.ip.replace(/\./g, '\\.')}:8443.*EADDRINUSE`));
      expect((await network().loadBalancers.get(RG, 'busy')).provisioningState).toBe('Failed');
    } finally {
      await stop(squatter);
    }
    await network().loadBalancers.beginDeleteAndWait(RG, 'busy', poll);
    await network().publicIPAddresses.beginDeleteAndWait(RG, 'busy-pip', poll);
  });

  it('closes the listener when the load balancer is deleted; then the public IP can go', async () => {
    await network().loadBalancers.beginDeleteAndWait(RG, 'lb', poll);
    expect(await connectError(pip.ip, 443)).toBe('ECONNREFUSED');
    await network().publicIPAddresses.beginDeleteAndWait(RG, 'lb-pip', poll);
    await expect(network().publicIPAddresses.get(RG, 'lb-pip')).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe('a load balancer over a scale set whose NICs name the pool', () => {
  it('forwards to the live instances, follows a replaced instance, and closes with its resource group', async () => {
    const rg = 'rg-lb-vmss';
    await resources().resourceGroups.createOrUpdate(rg, { location: LOCATION });
    const vnet = await network().virtualNetworks.beginCreateOrUpdateAndWait(
      rg,
      'vnet',
      {
        location: LOCATION,
        addressSpace: { addressPrefixes: ['10.30.0.0/16'] },
        subnets: [{ name: 'servers', addressPrefix: '10.30.1.0/24' }],
      },
      poll,
    );
    const pip = await publicIp(rg, 'pip');
    await network().loadBalancers.beginCreateOrUpdateAndWait(rg, 'lb', balancer(rg, 'lb', pip.id, { backendPort: instancePort }), poll);
    const poolId = `${lbId(rg, 'lb')}/backendAddressPools/servers`;
    const model = (pool: string) => ({
      location: LOCATION,
      sku: { name: 'Standard_B2s', tier: 'Standard', capacity: 2 },
      upgradePolicy: { mode: 'Manual' as const },
      virtualMachineProfile: {
        osProfile: { computerNamePrefix: 'srv', adminUsername: 'azureuser', customData: Buffer.from('lb').toString('base64') },
        networkProfile: {
          networkInterfaceConfigurations: [
            {
              name: 'nic',
              primary: true,
              ipConfigurations: [
                { name: 'primary', subnet: { id: vnet.subnets![0]!.id! }, loadBalancerBackendAddressPools: [{ id: pool }] },
              ],
            },
          ],
        },
      },
    });
    // A scale set naming a pool that does not exist is refused.
    await expect(compute().virtualMachineScaleSets.beginCreateOrUpdateAndWait(rg, 'srv', model(`${poolId}x`), poll)).rejects.toMatchObject({
      statusCode: 400,
      code: 'InvalidResourceReference',
    });
    await compute().virtualMachineScaleSets.beginCreateOrUpdateAndWait(rg, 'srv', model(poolId), poll);

    const addresses = async () => {
      const h = await health(rg, 'lb');
      return (h.loadBalancerBackendAddresses ?? []).filter((b) => b.state === 'Up').map((b) => b.ipAddress!);
    };
    const first = await until('both instances up', addresses, (a) => a.length === 2);
    const pool = await network().loadBalancerBackendAddressPools.get(rg, 'lb', 'servers');
    expect(pool.backendIPConfigurations?.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/\/virtualMachineScaleSets\/srv\/virtualMachines\/0\/networkInterfaces\/nic\/ipConfigurations\/primary$/),
      ]),
    );
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((JSON.parse(await exchange(pip.ip, 443, '')) as { ip: string }).ip);
    expect([...seen].sort()).toEqual([...first].sort());

    // Instance 0 is deleted and a new one (a new address) takes its place: traffic follows.
    await compute().virtualMachineScaleSets.beginDeleteInstancesAndWait(rg, 'srv', { instanceIds: ['0'] }, poll);
    await compute().virtualMachineScaleSets.beginUpdateAndWait(rg, 'srv', { sku: { capacity: 2 } }, poll);
    const second = await until('the new instance up', addresses, (a) => a.length === 2 && !a.every((ip) => first.includes(ip)));
    const fresh = second.find((ip) => !first.includes(ip))!;
    const reached = new Set<string>();
    for (let i = 0; i < 4; i++) reached.add((JSON.parse(await exchange(pip.ip, 443, '')) as { ip: string }).ip);
    expect(reached.has(fresh)).toBe(true);
    expect([...reached].every((ip) => second.includes(ip))).toBe(true);

    await resources().resourceGroups.beginDeleteAndWait(rg, poll);
    expect(await connectError(pip.ip, 443)).toBe('ECONNREFUSED');
  });
});
