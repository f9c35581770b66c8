// Issue 11, item 10: the smaller holes, each attacked through the real API on the real stack.
//  - x-ms-arm-resource-system-data is ARM's word on who created a resource: from anyone else it is ignored;
//  - getFederation shows only the ids of clusters the caller may see;
//  - concurrent requests racing for the one-operation index get 409 naming the running operation, never 500;
//  - OpenBao's root token is on no process's command line.
// (Writes to an unregistered subscription: subscription-lifecycle.test.ts.)
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { getCluster } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { clusterBody, clusterPath, rest, V, waitForState } from './support.js';

const stack = inject('stack');
const version = stack.tools.consulVersions.at(-1)!;
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => {
  await cp?.close();
});

describe('system data', () => {
  it('a customer cannot claim to be someone else; ARM can say who acted', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const forged = JSON.stringify({ createdBy: 'ceo@victim.example', createdByType: 'User', createdAt: '2020-01-01T00:00:00Z' });
    const customer = await cp.mintJwt('user', { roles: ['HCS.Operator'], hcs_subscriptions: [sub] });
    const path = clusterPath(sub, 'rg', 'who-made-me');
    const put = await rest(cp, 'PUT', `${path}?${V}`, {
      token: customer,
      body: clusterBody(version, '10.65.0.0/16'),
      headers: { 'x-ms-arm-resource-system-data': forged },
    });
    expect(put.status).toBe(201);
    const stored = await getCluster(cp.db, path.toLowerCase());
    expect(stored?.systemData?.createdBy).toBe('user:user-caller');
    expect(stored?.systemData?.createdAt).not.toBe('2020-01-01T00:00:00Z');

    const viaArm = clusterPath(sub, 'rg', 'made-by-arm');
    const armPut = await rest(cp, 'PUT', `${viaArm}?${V}`, {
      token: await cp.mintJwt('arm'),
      body: clusterBody(version, '10.66.0.0/16'),
      headers: { 'x-ms-arm-resource-system-data': forged },
    });
    expect(armPut.status).toBe(201);
    expect((await getCluster(cp.db, viaArm.toLowerCase()))?.systemData?.createdBy).toBe('ceo@victim.example');
  });
});

describe('getFederation', () => {
  it('shows only the ids of clusters the caller may see', async () => {
    const [subA, subB] = [randomUUID(), randomUUID()];
    await cp.registerSubscription(subA);
    await cp.registerSubscription(subB);
    const primary = clusterPath(subA, 'rg', 'primary');
    expect((await rest(cp, 'PUT', `${primary}?${V}`, { body: clusterBody(version, '10.67.0.0/16') })).status).toBe(201);
    await waitForState(cp, primary, ['Succeeded']);
    const issued = await rest(cp, 'POST', `${primary}/createFederationToken?${V}`);
    expect(issued.status).toBe(200);
    const secondary = clusterPath(subB, 'rg', 'secondary');
    const created = await rest(cp, 'PUT', `${secondary}?${V}`, {
      body: clusterBody(version, '10.68.0.0/16', { datacenter: 'dc2', federationToken: issued.json.federationToken }),
    });
    expect(created.status).toBe(201);
    await waitForState(cp, secondary, ['Succeeded']);

    const readerB = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [subB] });
    const fromB = await rest(cp, 'POST', `${secondary}/getFederation?${V}`, { token: readerB });
    expect(fromB.status).toBe(200);
    expect(JSON.stringify(fromB.json)).not.toContain(subA);
    expect(fromB.json.secondaryClusterIds).toEqual([expect.stringMatching(new RegExp(`/clusters/secondary$`, 'i'))]);
    expect(fromB.json.primaryClusterId ?? '').toBe('');

    const readerA = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [subA] });
    const fromA = await rest(cp, 'POST', `${primary}/getFederation?${V}`, { token: readerA });
    expect(fromA.status).toBe(200);
    expect(JSON.stringify(fromA.json)).not.toContain(subB);
    expect(fromA.json.primaryClusterId).toMatch(/\/clusters\/primary$/i);
    expect(fromA.json.secondaryClusterIds ?? []).toEqual([]);
    expect(fromA.json.datacenters).toEqual(['dc1', 'dc2']);

    // Whoever sees both sees both.
    const all = await rest(cp, 'POST', `${primary}/getFederation?${V}`);
    expect(all.json.secondaryClusterIds).toHaveLength(1);
  });
});

describe('racing for the one-operation rule', () => {
  it('concurrent creates of one cluster: one 201, every other answer 409 naming the running operation, never 500', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const path = clusterPath(sub, 'rg', 'contended');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () => rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(version, '10.69.0.0/16') })),
    );
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    const ops = await listOperations(cp.db, path.toLowerCase());
    expect(ops).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) {
      // A request that arrived after the winner committed may see the new cluster (200: same spec, still running: 409).
      expect(a.status).toBe(409);
      expect(a.json.error.code).toBe('OperationInProgress');
      expect(a.json.error.message).toContain(ops[0]!.operationId);
    }
  });

  it('concurrent actions on one cluster: one 202, the rest 409 naming it', async () => {
    const sub = randomUUID();
    await cp.registerSubscription(sub);
    const path = clusterPath(sub, 'rg', 'busy');
    expect((await rest(cp, 'PUT', `${path}?${V}`, { body: clusterBody(version, '10.70.0.0/16') })).status).toBe(201);
    await waitForState(cp, path, ['Succeeded']);
    const answers = await Promise.all(Array.from({ length: 6 }, () => rest(cp, 'POST', `${path}/createRootToken?${V}`)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    const running = (await listOperations(cp.db, path.toLowerCase())).find((o) => o.kind === 'token')!;
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect(a.status).toBe(409);
      expect(a.json.error.message).toContain(running.operationId);
    }
  });
});

describe('OpenBao root token', () => {
  it('is on no process command line', () => {
    expect(stack.vault.token.length).toBeGreaterThan(8);
    let seen = 0;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let cmdline: string;
      try {
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue; // the process ended meanwhile
      }
      seen++;
      expect(cmdline.replace(/\0/g, ' '), `process ${pid}`).not.toContain(stack.vault.token);
    }
    // The scan saw the stack's processes (OpenBao among them), not an empty /proc.
    expect(seen).toBeGreaterThan(5);
    const bao = readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      })
      .filter((c) => c.includes('-dev-listen-address'));
    expect(bao.length).toBeGreaterThan(0);
  });
});
