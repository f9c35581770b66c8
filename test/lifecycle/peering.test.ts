// Issue 17, item 5: cluster peering through our API, on the full real stack. A token is made on
// one cluster (generatePeeringToken, shown once) and the peering established on a cluster of
// another subscription (establishPeering); a service exported from the first shows up in the
// second's catalog over the servers' peering (gRPC TLS) ports. Deleting the first cluster ends
// the peering on the other side. The token never appears in a workflow history; bad input and
// another tenant's calls change nothing.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { listOperations } from '../../store/operations.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  clusterWorkflows,
  createRootToken,
  followLocation,
  historyTexts,
  lifecycleConfig,
  type ClusterAccess,
} from '../support/lifecycle.js';
import { httpCall } from '../../lib/http.js';
import { rest, V } from '../security/support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
const subA = randomUUID();
const subB = randomUUID();
const idA = `/subscriptions/${subA}/resourceGroups/rg-peer/providers/HCS.Consul/clusters/peer-a-${randomUUID().slice(0, 6)}`;
const idB = `/subscriptions/${subB}/resourceGroups/rg-peer/providers/HCS.Consul/clusters/peer-b-${randomUUID().slice(0, 6)}`;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }), {
  requirePostgres: 'the end-to-end test needs the PostgreSQL store (terraform pg backend)',
});
const side: Record<'a' | 'b', { access?: ClusterAccess; root: string }> = { a: { root: '' }, b: { root: '' } };
let peeringToken = '';

beforeAll(async () => {
  await cp.registerSubscription(subA);
  await cp.registerSubscription(subB);
});

/** A Consul API call on the cluster's first server with its root token. */
async function consul(which: 'a' | 'b', path: string, o: { method?: string; body?: unknown } = {}) {
  const s = side[which];
  return httpCall(`https://${s.access!.addresses[0]}:8501${path}`, {
    method: o.method ?? 'GET',
    ca: s.access!.caPem,
    headers: { 'x-consul-token': s.root },
    ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  let last: unknown;
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    const v = await probe().catch((e: unknown) => ((last = e), undefined));
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`${what} did not happen in ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`);
}

async function peeringState(which: 'a' | 'b', peer: string): Promise<string | undefined> {
  const res = await consul(which, `/v1/peering/${peer}`);
  return res.status === 200 ? (JSON.parse(res.body) as { State: string }).State : undefined;
}

describe.sequential('cluster peering', () => {
  it('creates two one-server clusters in two subscriptions', async () => {
    await Promise.all(
      [
        [idA, '10.66.0.0/16'],
        [idB, '10.67.0.0/16'],
      ].map(([id, cidr]) =>
        createCluster(cp, id!, { location: 'westeurope', properties: { consulVersion: version, serverCount: 1, network: { cidr } } }),
      ),
    );
    for (const [which, id] of [
      ['a', idA],
      ['b', idB],
    ] as const) {
      side[which].access = await clientAccess(cp, id);
      side[which].root = (await createRootToken(cp, id)).secretId;
    }
  }, 600_000);

  it('refuses a bad peer name, a token that is not one, and another tenant, recording nothing', async () => {
    const count = async (id: string) => (await listOperations(cp.db, id.toLowerCase())).length;
    const before = { a: await count(idA), b: await count(idB) };
    const badName = await arm(cp, 'POST', `${idA}/generatePeeringToken`, { peerName: 'Peer_B' });
    expect(badName.status).toBe(400);
    expect(JSON.parse(badName.body).error).toMatchObject({ code: 'InvalidPeerName', target: 'peerName' });
    const badToken = await arm(cp, 'POST', `${idB}/establishPeering`, { peerName: 'peer-a', peeringToken: 'bm90IGEgdG9rZW4=' });
    expect(badToken.status).toBe(400);
    expect(JSON.parse(badToken.body).error).toMatchObject({ code: 'InvalidPeeringToken', target: 'peeringToken' });
    const attacker = cp.scopedToken(cp.scopedSubscriptionIds[0]!);
    const foreign = await rest(cp, 'POST', `${idA}/generatePeeringToken?${V}`, { token: attacker, body: { peerName: 'evil' } });
    expect([403, 404]).toContain(foreign.status);
    expect({ a: await count(idA), b: await count(idB) }).toEqual(before);
  });

  it('makes a peering token on A, shown once', async () => {
    const started = await arm(cp, 'POST', `${idA}/generatePeeringToken`, { peerName: 'peer-b' });
    expect(started.status, started.body).toBe(202);
    const done = await followLocation(cp, String(started.headers.location));
    expect(done.status, done.body).toBe(200);
    const result = JSON.parse(done.body) as { peerName: string; peeringToken: string };
    expect(result.peerName).toBe('peer-b');
    expect(JSON.parse(Buffer.from(result.peeringToken, 'base64').toString('utf8'))).toHaveProperty('ServerAddresses');
    peeringToken = result.peeringToken;
    expect((await arm(cp, 'GET', String(started.headers.location))).status).toBe(404);
    expect(await peeringState('a', 'peer-b')).toBe('PENDING');
  }, 120_000);

  it('establishes it from B; both sides become active', async () => {
    const started = await arm(cp, 'POST', `${idB}/establishPeering`, { peerName: 'peer-a', peeringToken });
    expect(started.status, started.body).toBe(202);
    const done = await followLocation(cp, String(started.headers.location));
    expect(done.status, done.body).toBe(200);
    await until('A sees the peering active', async () => ((await peeringState('a', 'peer-b')) === 'ACTIVE' ? true : undefined));
    await until('B sees the peering active', async () => ((await peeringState('b', 'peer-a')) === 'ACTIVE' ? true : undefined));
  }, 180_000);

  it('shows a service A exports to B in B’s catalog', async () => {
    const register = await consul('a', '/v1/catalog/register', {
      method: 'PUT',
      body: { Node: 'external-web', Address: '192.0.2.10', Service: { Service: 'web', Port: 8080 } },
    });
    expect(register.status, register.body).toBe(200);
    const exported = await consul('a', '/v1/config', {
      method: 'PUT',
      body: { Kind: 'exported-services', Name: 'default', Services: [{ Name: 'web', Consumers: [{ Peer: 'peer-b' }] }] },
    });
    expect(exported.status, exported.body).toBe(200);
    const seen = await until('B lists web from peer-a', async () => {
      const res = await consul('b', '/v1/health/service/web?peer=peer-a');
      const entries = res.status === 200 ? (JSON.parse(res.body) as Array<{ Service: { Port: number } }>) : [];
      return entries.length > 0 ? entries : undefined;
    });
    expect(seen[0]!.Service.Port).toBe(8080);
  }, 180_000);

  it('kept the peering token out of every workflow history', async () => {
    const workflows = [
      ...(await clusterWorkflows(stack, cp.payloadCodec, idA.toLowerCase())),
      ...(await clusterWorkflows(stack, cp.payloadCodec, idB.toLowerCase())),
    ];
    expect(workflows.length).toBeGreaterThanOrEqual(6);
    const texts = await historyTexts(stack, cp.payloadCodec, workflows);
    for (const t of texts) expect(t.includes(peeringToken)).toBe(false);
  }, 120_000);

  it('deleting A ends the peering on B first, then the clusters go', async () => {
    const del = await arm(cp, 'DELETE', idA);
    expect(del.status, del.body).toBe(202);
    const done = await followLocation(cp, String(del.headers.location));
    expect(done.status).toBeLessThan(300);
    const [op] = await listOperations(cp.db, idA.toLowerCase());
    expect(op).toMatchObject({ kind: 'delete', status: 'Succeeded' });
    await until('B sees the peering terminated', async () => {
      const state = await peeringState('b', 'peer-a');
      if (state === 'TERMINATED' || state === undefined) return true;
      // Named in the timeout's message, should it come to that.
      throw new Error(`B's peering is ${state}`);
    });
    const delB = await arm(cp, 'DELETE', idB);
    expect(delB.status).toBe(202);
    expect((await followLocation(cp, String(delB.headers.location))).status).toBeLessThan(300);
  }, 300_000);
});
