// The ARM resource-provider contract, checked over real HTTPS against the real API, worker,
// Temporal server and store database.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { httpCall, type HttpResult } from '../../lib/http.js';
import { getCluster } from '../../store/clusters.js';
import { listOperations } from '../../store/operations.js';
import { insertSnapshot } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from './harness.js';
import { sealFederationToken } from '../../apps/api/src/service/federation.js';
import { deriveSealingKeys, SecretBox } from '../../lib/secret-box.js';
import { parsePayloadKeys } from '../../lib/payload-codec.js';

const stack = inject('stack');
const V = 'api-version=2026-11-01';
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane(stack);
});
afterAll(async () => {
  await cp?.close();
});

interface CallOptions {
  token?: string | null;
  clientCert?: { cert: string; key: string };
  body?: unknown;
  headers?: Record<string, string>;
}

async function call(method: string, path: string, o: CallOptions = {}): Promise<HttpResult & { json: any }> {
  const token = o.token === undefined ? cp.tokens.admin : o.token;
  const res = await httpCall(`${cp.api.restUrl}${path}`, {
    method,
    ca: cp.caCertPem,
    ...(o.clientCert ? { clientCert: o.clientCert } : {}),
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers },
    ...(o.body !== undefined ? { body: typeof o.body === 'string' ? o.body : JSON.stringify(o.body) } : {}),
  });
  return { ...res, json: res.body ? JSON.parse(res.body) : undefined };
}

const clusterPath = (sub: string, rg: string, name: string) =>
  `/subscriptions/${sub}/resourceGroups/${rg}/providers/HCS.Consul/clusters/${name}`;
const body = (cidr: string, extra: Record<string, unknown> = {}) => ({
  location: 'westeurope',
  properties: { consulVersion: stack.tools.consulVersions.at(-1), network: { cidr }, ...extra },
});

/** A new subscription, registered as ARM registers one before any write. */
async function registeredSubscription(): Promise<string> {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  return sub;
}

async function waitForState(path: string, states: string[]): Promise<any> {
  // A deadline rather than a count: on a loaded machine the stand-in workflow takes longer.
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    const r = await call('GET', `${path}?${V}`);
    if (r.status === 200 && states.includes(r.json.properties.provisioningState)) return r.json;
    if (r.status === 404 && states.includes('gone')) return undefined;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`${path} never reached ${states.join('/')}`);
}

describe('headers and api-version', () => {
  it('requires a supported api-version and answers ARM errors with x-ms-error-code and x-ms-request-id', async () => {
    const p = clusterPath(await registeredSubscription(), 'rg', 'c1');
    const missing = await call('GET', p);
    expect(missing.status).toBe(400);
    expect(missing.json.error.code).toBe('MissingApiVersionParameter');
    expect(missing.headers['x-ms-error-code']).toBe('MissingApiVersionParameter');
    expect(missing.headers['x-ms-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const wrong = await call('GET', `${p}?api-version=2020-01-01`);
    expect(wrong.status).toBe(400);
    expect(wrong.json.error).toMatchObject({ code: 'UnsupportedApiVersionValue', message: expect.stringContaining('2026-11-01') });
  });

  it('echoes the client request id on request and carries the correlation id into the operation', async () => {
    const sub = await registeredSubscription();
    const p = clusterPath(sub, 'rg', 'corr');
    const correlation = randomUUID();
    const r = await call('PUT', `${p}?${V}`, {
      body: body('10.1.0.0/16'),
      headers: {
        'x-ms-correlation-request-id': correlation,
        'x-ms-client-request-id': 'client-1',
        'x-ms-return-client-request-id': 'true',
      },
    });
    expect(r.status).toBe(201);
    expect(r.headers['x-ms-client-request-id']).toBe('client-1');
    expect(r.headers['x-ms-correlation-request-id']).toBe(correlation);
    const [op] = await listOperations(cp.db, p.toLowerCase());
    expect(op?.correlationId).toBe(correlation);
    await waitForState(p, ['Succeeded']);
  });
});

describe('discovery', () => {
  it('serves the generated OpenAPI document and the provider operations list', async () => {
    const doc = await call('GET', '/openapi.json', { token: null });
    expect(doc.status).toBe(200);
    expect(doc.json.swagger).toBe('2.0');
    expect(Object.keys(doc.json.paths)).toContain(
      '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/HCS.Consul/clusters/{clusterName}',
    );
    const ops = await call('GET', `/providers/HCS.Consul/operations?${V}`);
    expect(ops.status).toBe(200);
    const names = (ops.json.value as Array<{ name: string }>).map((o) => o.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'HCS.Consul/clusters/read',
        'HCS.Consul/clusters/write',
        'HCS.Consul/clusters/delete',
        'HCS.Consul/clusters/createSnapshot/action',
      ]),
    );
    expect((await call('GET', `/providers/HCS.Consul/operations?${V}`, { token: null })).status).toBe(401);
  });
});

describe('systemData', () => {
  it("takes systemData from ARM's x-ms-arm-resource-system-data header and keeps the creation fields on update", async () => {
    const p = clusterPath(await registeredSubscription(), 'rg', 'sysdata');
    const created = { createdBy: 'alice@contoso.test', createdByType: 'User', createdAt: '2026-11-20T10:00:00Z' };
    const r = await call('PUT', `${p}?${V}`, {
      token: await cp.mintJwt('arm'),
      body: body('10.7.0.0/16'),
      headers: {
        'x-ms-arm-resource-system-data': JSON.stringify({
          ...created,
          lastModifiedBy: 'alice@contoso.test',
          lastModifiedByType: 'User',
          lastModifiedAt: '2026-11-20T10:00:00Z',
        }),
      },
    });
    expect(r.json.systemData).toMatchObject(created);
    await waitForState(p, ['Succeeded']);
    const later = { lastModifiedBy: 'bob@contoso.test', lastModifiedByType: 'User', lastModifiedAt: '2026-11-21T09:00:00Z' };
    const u = await call('PATCH', `${p}?${V}`, {
      token: await cp.mintJwt('arm'),
      body: { tags: { owner: 'bob' } },
      headers: { 'x-ms-arm-resource-system-data': JSON.stringify(later) },
    });
    expect(u.json.systemData).toEqual({ ...created, ...later });
    // From anyone but ARM the header is ignored: the caller is who it is (test/security/smaller-holes.test.ts).
    const forged = await call('PATCH', `${p}?${V}`, {
      body: { tags: { owner: 'mallory' } },
      headers: { 'x-ms-arm-resource-system-data': JSON.stringify({ ...later, lastModifiedBy: 'bob@contoso.test' }) },
    });
    expect(forged.json.systemData).toMatchObject({ ...created, lastModifiedBy: 'operator:test-admin' });
  });
});

describe('authentication and authorization', () => {
  it('answers 401 without credentials and with a bad token, 403 to a reader that mutates', async () => {
    const p = `${clusterPath(await registeredSubscription(), 'rg', 'auth')}?${V}`;
    expect((await call('GET', p, { token: null })).status).toBe(401);
    const bad = await call('GET', p, { token: 'hcsop_not-a-real-token' });
    expect(bad.status).toBe(401);
    expect(bad.json.error.code).toBe('AuthenticationFailed');
    const reader = await call('PUT', p, { token: cp.tokens.reader, body: body('10.2.0.0/16') });
    expect(reader.status).toBe(403);
    expect(reader.json.error.code).toBe('AuthorizationFailed');
    expect((await call('GET', p, { token: cp.tokens.reader })).status).toBe(404);
    // Nothing was written by the refused PUT.
    expect(await getCluster(cp.db, p.split('?')[0]!.toLowerCase())).toBeUndefined();
  });

  it('hides other subscriptions from a scoped caller (404), and serves its own', async () => {
    const [mine, other] = cp.scopedSubscriptionIds as [string, string];
    const token = cp.scopedToken(mine);
    const otherPath = clusterPath(other, 'rg', 'hidden');
    expect((await call('PUT', `${otherPath}?${V}`, { body: body('10.3.0.0/16') })).status).toBe(201);
    const seen = await call('GET', `${otherPath}?${V}`, { token });
    expect(seen.status).toBe(404);
    expect(seen.json.error.code).toBe('ResourceNotFound');
    expect((await call('GET', `/subscriptions/${other}/providers/HCS.Consul/clusters?${V}`, { token })).status).toBe(404);
    const mineRes = await call('PUT', `${clusterPath(mine, 'rg', 'visible')}?${V}`, { token, body: body('10.4.0.0/16') });
    expect(mineRes.status).toBe(201);
    // ...and the operation ids of the other subscription are not found from its scope.
    const opUrl = new URL(mineRes.headers['azure-asyncoperation'] as string);
    const foreign = opUrl.pathname.replace(mine, other);
    expect((await call('GET', `${foreign}?${V}`, { token: cp.tokens.admin })).status).toBe(404);
  });

  it('trusts ARM by client-certificate thumbprint (mutual TLS) and answers 403 to an untrusted certificate', async () => {
    const p = `${clusterPath(await registeredSubscription(), 'rg', 'mtls')}?${V}`;
    const arm = await call('PUT', p, { token: null, clientCert: cp.clientCerts.arm, body: body('10.6.0.0/16') });
    expect(arm.status).toBe(201);
    expect(arm.json.systemData.createdBy).toMatch(/^cert:[0-9a-f]{40}$/);
    const stranger = await call('GET', p, { token: null, clientCert: cp.clientCerts.stranger });
    expect(stranger.status).toBe(403);
    expect(stranger.json.error.code).toBe('ClientCertificateNotTrusted');
  });

  it('accepts ARM tokens and user tokens whose roles and subscriptions claims scope them', async () => {
    const sub = await registeredSubscription();
    const p = `${clusterPath(sub, 'rg', 'jwt')}?${V}`;
    expect((await call('PUT', p, { token: await cp.mintJwt('arm'), body: body('10.5.0.0/16') })).status).toBe(201);
    const reader = await cp.mintJwt('user', { roles: ['HCS.Reader'], hcs_subscriptions: [sub] });
    expect((await call('GET', p, { token: reader })).status).toBe(200);
    expect((await call('DELETE', p, { token: reader })).status).toBe(403);
    const outsider = await cp.mintJwt('user', { roles: ['HCS.Admin'], hcs_subscriptions: [randomUUID()] });
    expect((await call('GET', p, { token: outsider })).status).toBe(404);
  });
});

describe('validation changes nothing', () => {
  it('reports every problem with its target and writes nothing', async () => {
    const sub = await registeredSubscription();
    const p = clusterPath(sub, 'rg', 'bad');
    const r = await call('PUT', `${p}?${V}`, {
      body: {
        location: 'westeurope',
        properties: { consulVersion: '0.0.1', serverCount: 4, network: { cidr: '8.8.0.0/16' }, color: 'blue' },
      },
    });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidRequestContent');
    const targets = (r.json.error.details as Array<{ target: string }>).map((d) => d.target).sort();
    expect(targets).toEqual(
      expect.arrayContaining(['properties.color', 'properties.consulVersion', 'properties.network.cidr', 'properties.serverCount']),
    );
    expect(await getCluster(cp.db, p.toLowerCase())).toBeUndefined();
    expect(await listOperations(cp.db, p.toLowerCase())).toEqual([]);
    const notJson = await call('PUT', `${p}?${V}`, { body: '{"location":', headers: { 'content-type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.json.error.code).toBe('InvalidRequestContent');
    const big = await call('PUT', `${p}?${V}`, { body: JSON.stringify({ location: 'x'.repeat(5 * 1024 * 1024) }) });
    expect(big.status).toBe(413);
    expect(await getCluster(cp.db, p.toLowerCase())).toBeUndefined();
  });

  it('refuses a CIDR that overlaps another cluster of the subscription, naming it', async () => {
    const sub = await registeredSubscription();
    const first = clusterPath(sub, 'rg', 'net-a');
    expect((await call('PUT', `${first}?${V}`, { body: body('10.20.0.0/16') })).status).toBe(201);
    const r = await call('PUT', `${clusterPath(sub, 'rg', 'net-b')}?${V}`, { body: body('10.20.128.0/24') });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ code: 'CidrOverlap', target: 'properties.network.cidr', message: expect.stringContaining(first) });
  });

  it('of creates with overlapping CIDRs sent at the same moment, exactly one is created; the others are 400 CidrOverlap and write nothing', async () => {
    const sub = await registeredSubscription();
    // Every request passes validation before any has committed; only the check under the
    // subscription's lock (in the create's transaction) can tell them apart.
    // Nested ranges: every two overlap.
    const ranges = ['10.21.0.0/16', '10.21.0.0/17', '10.21.0.0/18', '10.21.0.0/20', '10.21.0.0/22', '10.21.0.0/24'];
    const paths = ranges.map((_, i) => clusterPath(sub, 'rg', `race-${i}`));
    const answers = await Promise.all(ranges.map((cidr, i) => call('PUT', `${paths[i]}?${V}`, { body: body(cidr) })));
    const created = answers.flatMap((a, i) => (a.status === 201 ? [paths[i]!] : []));
    expect(created, JSON.stringify(answers.map((a) => a.status))).toHaveLength(1);
    for (const [i, a] of answers.entries()) {
      if (a.status === 201) continue;
      expect(a.status).toBe(400);
      expect(a.json.error).toMatchObject({
        code: 'CidrOverlap',
        target: 'properties.network.cidr',
        message: expect.stringContaining(created[0]!),
      });
      expect(await getCluster(cp.db, paths[i]!.toLowerCase())).toBeUndefined();
      expect(await listOperations(cp.db, paths[i]!.toLowerCase())).toEqual([]);
    }
  });
});

describe('lifecycle semantics', () => {
  it('PUT 201 then 200, one operation at a time (409 names it), ETag preconditions, PATCH 202 with Location, DELETE 202 then 204', async () => {
    const sub = await registeredSubscription();
    const p = clusterPath(sub, 'rg', 'life');
    const created = await call('PUT', `${p}?${V}`, { body: body('10.30.0.0/16') });
    expect(created.status).toBe(201);
    expect(created.json.properties.provisioningState).toBe('Accepted');
    expect(created.headers['azure-asyncoperation']).toMatch(
      /\/providers\/HCS\.Consul\/locations\/westeurope\/operationStatuses\/[0-9a-f-]{36}\?api-version=2026-11-01$/,
    );
    const conflict = await call('PATCH', `${p}?${V}`, { body: { properties: { serverCount: 5 } } });
    expect(conflict.status).toBe(409);
    expect(conflict.json.error.code).toBe('OperationInProgress');
    const [running] = await listOperations(cp.db, p.toLowerCase());
    expect(conflict.json.error.message).toContain(running!.operationId);

    const status = await call('GET', new URL(created.headers['azure-asyncoperation'] as string).pathname + `?${V}`);
    expect(status.status).toBe(200);
    expect(['Accepted', 'Running', 'Succeeded']).toContain(status.json.status);
    const done = await waitForState(p, ['Succeeded']);

    expect((await call('PUT', `${p}?${V}`, { body: body('10.30.0.0/16'), headers: { 'if-none-match': '*' } })).status).toBe(412);
    expect((await call('PATCH', `${p}?${V}`, { body: { tags: { a: 'b' } }, headers: { 'if-match': '"stale"' } })).status).toBe(412);
    const same = await call('PUT', `${p}?${V}`, { body: body('10.30.0.0/16') });
    expect(same.status).toBe(200);
    expect(same.headers.etag).toBe(done.etag);

    const tags = await call('PATCH', `${p}?${V}`, { body: { tags: { team: 'sre' } }, headers: { 'if-match': done.etag } });
    expect(tags.status).toBe(200);
    expect(tags.json.tags).toEqual({ team: 'sre' });
    expect(tags.headers.etag).not.toBe(done.etag);

    const scale = await call('PATCH', `${p}?${V}`, { body: { properties: { serverCount: 5 } } });
    expect(scale.status).toBe(202);
    const location = new URL(scale.headers.location as string);
    expect(location.pathname).toMatch(/\/operationResults\//);
    expect(scale.headers['retry-after']).toBe('1');
    let result = await call('GET', `${location.pathname}${location.search}`);
    for (let i = 0; result.status === 202 && i < 100; i++) {
      await new Promise((r) => setTimeout(r, 100));
      result = await call('GET', `${location.pathname}${location.search}`);
    }
    expect(result.status).toBe(200);
    expect(result.json.properties).toMatchObject({ serverCount: 5, provisioningState: 'Succeeded' });
    expect((await listOperations(cp.db, p.toLowerCase()))[0]?.kind).toBe('scale');

    const del = await call('DELETE', `${p}?${V}`);
    expect(del.status).toBe(202);
    expect(del.headers.location).toBeTruthy();
    await waitForState(p, ['gone']);
    expect((await call('DELETE', `${p}?${V}`)).status).toBe(204);
  });

  it('pages lists with an opaque $skipToken and no nextLink on the last page', async () => {
    const sub = await registeredSubscription();
    for (const [i, name] of ['p-a', 'p-b', 'p-c'].entries()) {
      expect(
        (await call('PUT', `${clusterPath(sub, i === 2 ? 'rg2' : 'rg1', name)}?${V}`, { body: body(`10.${50 + i}.0.0/16`) })).status,
      ).toBe(201);
    }
    const names: string[] = [];
    let next: string | undefined = `/subscriptions/${sub}/providers/HCS.Consul/clusters?${V}&$top=1`;
    let pages = 0;
    while (next) {
      const r = await call('GET', next);
      expect(r.status).toBe(200);
      names.push(...(r.json.value as Array<{ name: string }>).map((c) => c.name));
      pages++;
      next = r.json.nextLink ? new URL(r.json.nextLink as string).pathname + new URL(r.json.nextLink as string).search : undefined;
      if (next === undefined) expect('nextLink' in r.json).toBe(false);
    }
    expect(pages).toBe(3);
    expect(names).toEqual(['p-a', 'p-b', 'p-c']);
    const rg = await call('GET', `/subscriptions/${sub}/resourceGroups/RG1/providers/HCS.Consul/clusters?${V}`);
    expect((rg.json.value as Array<{ name: string }>).map((c) => c.name)).toEqual(['p-a', 'p-b']);
    const empty = await call('GET', `/subscriptions/${randomUUID()}/providers/HCS.Consul/clusters?${V}`);
    expect(empty.json).toEqual({ value: [] });
  });
});

describe('actions', () => {
  it('lists upgrade versions from the catalogue and serves snapshot metadata (list, get, rename)', async () => {
    const sub = await registeredSubscription();
    const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
    const p = clusterPath(sub, 'rg', 'acts');
    expect(
      (
        await call('PUT', `${p}?${V}`, {
          body: { ...body('10.80.0.0/16'), properties: { ...body('10.80.0.0/16').properties, consulVersion: older } },
        })
      ).status,
    ).toBe(201);
    await waitForState(p, ['Succeeded']);
    const versions = await call('POST', `${p}/listUpgradeVersions?${V}`);
    expect(versions.status).toBe(200);
    expect(versions.json.value).toEqual([{ version: newer, status: 'UPGRADE_VERSION_STATUS_RECOMMENDED', kind: 'patch' }]);

    expect((await call('POST', `${p}/listSnapshots?${V}`)).json).toEqual({ value: [] });
    // Snapshot rows are written by the snapshot workflow (not part of this build); the test writes one.
    const snapshotId = randomUUID();
    await insertSnapshot(cp.db, {
      snapshotId,
      resourceKey: p.toLowerCase(),
      name: 'nightly',
      kind: 'AUTOMATIC',
      state: 'COMPLETED',
      sizeBytes: 1234,
      consulVersion: older,
      finished: true,
    });
    const listed = await call('POST', `${p}/listSnapshots?${V}`);
    expect(listed.json.value).toMatchObject([
      { id: snapshotId, name: 'nightly', type: 'SNAPSHOT_TYPE_AUTOMATIC', state: 'SNAPSHOT_STATE_COMPLETED', sizeBytes: 1234 },
    ]);
    // The snapshot an upgrade takes has a type of its own (retention removes it 7 days later).
    const upgradeSnapshotId = randomUUID();
    await insertSnapshot(cp.db, {
      snapshotId: upgradeSnapshotId,
      resourceKey: p.toLowerCase(),
      name: `before upgrade to ${newer}`,
      kind: 'UPGRADE',
      state: 'COMPLETED',
      sizeBytes: 99,
      consulVersion: older,
      finished: true,
    });
    expect((await call('POST', `${p}/getSnapshot?${V}`, { body: { snapshotId: upgradeSnapshotId } })).json.snapshot).toMatchObject({
      id: upgradeSnapshotId,
      type: 'SNAPSHOT_TYPE_UPGRADE',
    });
    const renamed = await call('POST', `${p}/renameSnapshot?${V}`, { body: { snapshotId, name: 'before-upgrade' } });
    expect(renamed.json.snapshot.name).toBe('before-upgrade');
    const bad = await call('POST', `${p}/renameSnapshot?${V}`, { body: { snapshotId, name: '' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.target).toBe('name');
    expect((await call('POST', `${p}/getSnapshot?${V}`, { body: { snapshotId } })).json.snapshot.name).toBe('before-upgrade');
    expect((await call('POST', `${p}/getSnapshot?${V}`, { body: { snapshotId: randomUUID() } })).status).toBe(404);
    expect((await call('POST', `${p}/renameSnapshot?${V}`, { token: cp.tokens.reader, body: { snapshotId, name: 'x' } })).status).toBe(403);
    // createSnapshot starts an operation (the stand-in here) with a PENDING MANUAL snapshot.
    const started = await call('POST', `${p}/createSnapshot?${V}`, { body: { name: 'now' } });
    expect(started.status).toBe(202);
    expect(started.headers.location).toMatch(/\/operationResults\//);
    expect((await listOperations(cp.db, p.toLowerCase()))[0]).toMatchObject({ kind: 'snapshot' });
    expect((await call('POST', `${p}/listSnapshots?${V}`)).json.value).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'now', type: 'SNAPSHOT_TYPE_MANUAL', state: 'SNAPSHOT_STATE_PENDING' })]),
    );
    // The operation's result (its Location) names the snapshot it took.
    const location = new URL(String(started.headers.location));
    let result = await call('GET', `${location.pathname}${location.search}`);
    for (let i = 0; i < 60 && result.status === 202; i++) {
      await new Promise((r) => setTimeout(r, 250));
      result = await call('GET', `${location.pathname}${location.search}`);
    }
    expect(result.status).toBe(200);
    expect(result.json.snapshot).toMatchObject({ name: 'now', type: 'SNAPSHOT_TYPE_MANUAL' });
  });
});

describe('client config and root token actions', () => {
  it('listClientConfig is for operators and says when the cluster has none yet; createRootToken is an operation, one at a time', async () => {
    const sub = await registeredSubscription();
    const p = clusterPath(sub, 'rg', 'tokens');
    expect((await call('PUT', `${p}?${V}`, { body: body('10.61.0.0/16') })).status).toBe(201);
    // While the create runs, a root token cannot be made yet.
    const early = await call('POST', `${p}/createRootToken?${V}`);
    expect(early.status).toBe(409);
    expect(early.json.error.code).toBe('ClusterNotReady');
    await waitForState(p, ['Succeeded']);
    // Readers may not see the gossip key.
    expect((await call('POST', `${p}/listClientConfig?${V}`, { token: cp.tokens.reader })).status).toBe(403);
    // The stand-in workflow builds nothing, so there is no client configuration to hand out.
    const none = await call('POST', `${p}/listClientConfig?${V}`);
    expect(none.status).toBe(409);
    expect(none.json.error.code).toBe('ClusterNotReady');
    expect((await call('POST', `${p}/createRootToken?${V}`, { token: cp.tokens.reader })).status).toBe(403);
    const started = await call('POST', `${p}/createRootToken?${V}`);
    expect(started.status).toBe(202);
    expect(started.headers.location).toMatch(/\/operationResults\//);
    expect(started.headers['azure-asyncoperation']).toMatch(/\/operationStatuses\//);
    const second = await call('POST', `${p}/createRootToken?${V}`);
    expect(second.status).toBe(409);
    expect(second.json.error.code).toBe('OperationInProgress');
    const [op] = await listOperations(cp.db, p.toLowerCase());
    expect(op).toMatchObject({ kind: 'token' });
    expect((await call('POST', `${clusterPath(sub, 'rg', 'absent')}/createRootToken?${V}`)).status).toBe(404);
  });
});

describe('WAN federation and billing report actions', () => {
  it('hands out federation tokens, checks them on create, records the federation and guards the primary', async () => {
    const sub = await registeredSubscription();
    await cp.registerSubscription(sub);
    const primary = clusterPath(sub, 'rg', 'fed-primary');
    const secondary = clusterPath(sub, 'rg-2', 'fed-secondary');
    expect((await call('PUT', `${primary}?${V}`, { body: body('10.70.0.0/16') })).status).toBe(201);
    const early = await call('POST', `${primary}/createFederationToken?${V}`);
    expect(early.status).toBe(409);
    expect(early.json.error.code).toBe('ClusterNotReady');
    await waitForState(primary, ['Succeeded']);
    expect((await call('POST', `${primary}/createFederationToken?${V}`, { token: cp.tokens.reader })).status).toBe(403);
    const newToken = async () => {
      const issued = await call('POST', `${primary}/createFederationToken?${V}`);
      expect(issued.status, issued.body).toBe(200);
      return issued.json as { federationToken: string; tokenId: string; expiresAt: string };
    };
    const issued = await newToken();
    const token = issued.federationToken;
    // One hour by default; the answer names the token's id (for revokeFederationTokens), not the token's contents.
    expect(Date.parse(issued.expiresAt) - Date.now()).toBeGreaterThan(59 * 60_000);
    expect(Date.parse(issued.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(issued.tokenId).toMatch(/^[0-9a-f-]{36}$/);

    // Refusals write nothing: a tampered token, a sealed document that was never issued, an
    // expired and an over-long token; the primary's datacenter name.
    const sealer = new SecretBox(deriveSealingKeys(parsePayloadKeys(cp.payloadKeys)));
    const neverIssued = sealFederationToken(sealer, {
      tokenId: randomUUID(),
      primaryId: primary,
      issuedToTenant: null,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
    });
    const expired = await newToken();
    await cp.db.query(`UPDATE federation_tokens SET expires_at = now() - interval '1 second' WHERE token_id = $1`, [expired.tokenId]);
    const refusals: Array<[unknown, string, string]> = [
      [body('10.71.0.0/16', { datacenter: 'dc2', federationToken: `${token}x` }), 'InvalidFederationToken', 'properties.federationToken'],
      [body('10.71.0.0/16', { datacenter: 'dc2', federationToken: neverIssued }), 'InvalidFederationToken', 'properties.federationToken'],
      [
        body('10.71.0.0/16', { datacenter: 'dc2', federationToken: expired.federationToken }),
        'FederationTokenExpired',
        'properties.federationToken',
      ],
      [
        body('10.71.0.0/16', { datacenter: 'dc2', federationToken: 'x'.repeat(5000) }),
        'InvalidFederationToken',
        'properties.federationToken',
      ],
      [body('10.71.0.0/16', { federationToken: token }), 'DatacenterInUse', 'properties.datacenter'],
    ];
    for (const [b, code, target] of refusals) {
      const res = await call('PUT', `${secondary}?${V}`, { body: b });
      expect(res.status, res.body).toBe(400);
      const found = [res.json.error, ...(res.json.error.details ?? [])].find((d: { code: string }) => d.code === code);
      expect(found, res.body).toMatchObject({ target });
      expect((await call('GET', `${secondary}?${V}`)).status).toBe(404);
    }
    expect(await listOperations(cp.db, secondary.toLowerCase())).toEqual([]);

    const created = await call('PUT', `${secondary}?${V}`, { body: body('10.71.0.0/16', { datacenter: 'dc2', federationToken: token }) });
    expect(created.status, created.body).toBe(201);
    expect(created.json.properties.primaryClusterId).toBe(primary);
    expect(created.body).not.toContain(token);
    const ready = await waitForState(secondary, ['Succeeded']);
    expect(ready.properties).not.toHaveProperty('federationToken');
    expect((await getCluster(cp.db, secondary.toLowerCase()))!.spec.properties.primaryClusterId).toBe(primary);

    // GET-modify-PUT and PATCH keep the federation; a token cannot be added to or changed on an existing cluster.
    const echoed = await call('PUT', `${secondary}?${V}`, { body: { ...ready, tags: { team: 'west' } } });
    expect(echoed.status, echoed.body).toBe(200);
    expect(echoed.json.properties.primaryClusterId).toBe(primary);
    expect((await call('PATCH', `${secondary}?${V}`, { body: { properties: { federationToken: token } } })).status).toBe(400);
    const late = await call('PUT', `${primary}?${V}`, { body: body('10.70.0.0/16', { federationToken: token }) });
    expect(late.status).toBe(400);
    expect(late.json.error.details?.[0]?.target ?? late.json.error.target).toBe('properties.federationToken');
    await waitForState(secondary, ['Succeeded']);

    // Two secondaries asking for one datacenter name at the same time (each with a token of its own): exactly one gets it.
    const racers = [clusterPath(sub, 'rg-3', 'racer-a'), clusterPath(sub, 'rg-3', 'racer-b')];
    const racerTokens = [(await newToken()).federationToken, (await newToken()).federationToken];
    const raced = await Promise.all(
      racers.map((p, i) =>
        call('PUT', `${p}?${V}`, { body: body(`10.${73 + i}.0.0/16`, { datacenter: 'dc3', federationToken: racerTokens[i] }) }),
      ),
    );
    expect(raced.map((r) => r.status).sort()).toEqual([201, 400]);
    const loser = raced.find((r) => r.status === 400)!;
    expect([loser.json.error, ...(loser.json.error.details ?? [])].map((d: { code: string }) => d.code)).toContain('DatacenterInUse');
    const winner = racers[raced.findIndex((r) => r.status === 201)]!;
    await waitForState(winner, ['Succeeded']);
    expect((await call('DELETE', `${winner}?${V}`)).status).toBe(202);
    await waitForState(winner, ['gone']);

    for (const p of [primary, secondary]) {
      const fed = await call('POST', `${p}/getFederation?${V}`);
      expect(fed.status).toBe(200);
      expect(fed.json).toEqual({ primaryClusterId: primary, secondaryClusterIds: [secondary], datacenters: ['dc1', 'dc2'] });
    }
    const notPrimary = await call('POST', `${secondary}/createFederationToken?${V}`);
    expect(notPrimary.status).toBe(409);
    expect(notPrimary.json.error.code).toBe('NotAPrimaryCluster');
    const guarded = await call('DELETE', `${primary}?${V}`);
    expect(guarded.status).toBe(409);
    expect(guarded.json.error.code).toBe('FederationHasSecondaries');
    expect(guarded.json.error.message).toContain(secondary);
    expect((await waitForState(primary, ['Succeeded'])).properties.provisioningState).toBe('Succeeded');

    expect((await call('DELETE', `${secondary}?${V}`)).status).toBe(202);
    await waitForState(secondary, ['gone']);
    expect((await call('POST', `${primary}/getFederation?${V}`)).json).toEqual({
      primaryClusterId: primary,
      secondaryClusterIds: [],
      datacenters: ['dc1'],
    });
    expect((await call('DELETE', `${primary}?${V}`)).status).toBe(202);
  });

  it('reports billable server hours of one month, final once the month is over', async () => {
    const p = clusterPath(await registeredSubscription(), 'rg', 'billed');
    expect((await call('PUT', `${p}?${V}`, { body: body('10.72.0.0/16', { serverCount: 1 }) })).status).toBe(201);
    await waitForState(p, ['Succeeded']);
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const current = await call('POST', `${p}/billingReport?${V}`, { body: { month }, token: cp.tokens.reader });
    expect(current.status, current.body).toBe(200);
    expect(current.json).toMatchObject({ month, plan: 'DEVELOPMENT', complete: false });
    const past = await call('POST', `${p}/billingReport?${V}`, { body: { month: '2020-01' } });
    expect(past.json).toMatchObject({ month: '2020-01', complete: true });
    expect(past.json.serverHours).toBe(0);
    for (const bad of ['2026-13', '26-01', '', `${now.getUTCFullYear() + 1}-01`]) {
      const res = await call('POST', `${p}/billingReport?${V}`, { body: { month: bad } });
      expect(res.status, bad).toBe(400);
      expect(res.json.error.details?.[0]?.target ?? res.json.error.target).toBe('month');
    }
  });
});

describe('notifications', () => {
  it('applies subscription states: Warned allows only GET and DELETE, Deleted removes everything', async () => {
    const sub = await registeredSubscription();
    const p = clusterPath(sub, 'rg', 'subs');
    expect((await call('PUT', `${p}?${V}`, { body: body('10.60.0.0/16') })).status).toBe(201);
    await waitForState(p, ['Succeeded']);
    const warned = await call('PUT', `/subscriptions/${sub}?api-version=2.0`, {
      body: { state: 'Warned', registrationDate: 'Mon, 01 Jan 2026 00:00:00 GMT', properties: { tenantId: 't1' } },
    });
    expect(warned.status).toBe(200);
    expect(warned.json.state).toBe('Warned');
    const refused = await call('PATCH', `${p}?${V}`, { body: { tags: { x: 'y' } } });
    expect(refused.status).toBe(409);
    expect(refused.json.error.code).toBe('InvalidSubscriptionState');
    expect((await call('GET', `${p}?${V}`)).status).toBe(200);
    expect((await call('PUT', `/subscriptions/${sub}?api-version=2.0`, { body: { state: 'Bogus' } })).status).toBe(400);
    expect((await call('PUT', `/subscriptions/${sub}?api-version=2.0`, { body: { state: 'Deleted' } })).status).toBe(200);
    await waitForState(p, ['gone']);
    // Only Azure (or a platform admin) may send notifications.
    expect(
      (await call('PUT', `/subscriptions/${sub}?api-version=2.0`, { token: cp.tokens.operator, body: { state: 'Registered' } })).status,
    ).toBe(403);
  });

  it('records a managed-application notification once, however often Azure retries it', async () => {
    const n = {
      eventType: 'PUT',
      applicationId: `/subscriptions/${randomUUID()}/resourceGroups/rg/providers/Microsoft.Solutions/applications/app1`,
      eventTime: new Date().toISOString(),
      provisioningState: 'Succeeded',
      billingDetails: { resourceUsageId: randomUUID() },
      plan: { publisher: 'hcs', product: 'consul', name: 'standard', version: '1.0.0' },
    };
    const first = await call('POST', '/resource', { body: n });
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ firstDelivery: true });
    expect((await call('POST', '/resource', { body: n })).json).toEqual({ firstDelivery: false });
    const bad = await call('POST', '/resource', { body: { ...n, eventType: 'EXPLODE' } });
    expect(bad.status).toBe(400);
    expect(bad.json.error.target).toBe('eventType');
  });
});
