// Issue 12, items 1 and 2 on the full real stack: safety work never lapses, and waiting is not
// holding. A 1-server cluster with 3-minute server certificates (due at two thirds of their life,
// checked every twelfth) and a 47-second snapshot schedule gets an upgrade whose maintenance
// window is hours away: it is Scheduled and holds no lock, and customer changes are refused
// naming it and change nothing. Then the cluster is marked Failed in the store, as a failed scale
// leaves it. While the upgrade waits and a client keeps writing KV over TLS (verified against the
// cluster's CA, so an expired certificate fails the handshake), the server's certificate is
// replaced at least twice, each rotation starting no later than a sixth of the lifetime after
// the certificate was due and each new certificate in place before its predecessor expired;
// automatic snapshots keep coming; the cluster stays Failed throughout (safety work neither stops
// on a Failed cluster nor pretends the failed provisioning succeeded). GET shows the earliest
// server-certificate expiry and the last successful snapshot. Cancelling the waiting upgrade ends
// it at once and changes no state.
import { randomUUID, type X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { setProvisioningState } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { listSnapshots } from '../../store/snapshots.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import { arm, clientAccess, createRootToken, followLocation, lifecycleConfig } from '../support/lifecycle.js';
import { windowHoursAway } from '../support/windows.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const TTL_SECONDS = 180;
const SNAPSHOT_INTERVAL_SECONDS = 47;
const cp = useControlPlane(stack, () => ({
  lifecycle: {
    ...lifecycleConfig(stack, { serverCertTtlHours: TTL_SECONDS / 3600 }),
    snapshotIntervalSeconds: SNAPSHOT_INTERVAL_SECONDS,
  },
}));

/** The certificate the server presents on its HTTPS port, verified against the cluster's CA. */
function presented(address: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 8501, ca, servername: 'server.dc1.consul', allowPartialTrustChain: true }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error('no certificate'));
      else resolve(cert);
    });
    socket.on('error', reject);
  });
}

interface ClusterGet {
  etag: string;
  properties: { provisioningState: string; earliestServerCertificateExpiry?: string; lastSuccessfulSnapshotTime?: string };
}
const get = async (id: string) => JSON.parse((await arm(cp, 'GET', id)).body) as ClusterGet;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a Failed cluster with an upgrade waiting for its window: certificates rotate on time, snapshots keep coming, no state changes', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-wait/providers/HCS.Consul/clusters/wait-${randomUUID().slice(0, 6)}`;
  const key = id.toLowerCase();
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 1,
      network: { cidr: '10.71.0.0/16' },
      maintenanceWindow: windowHoursAway(),
      upgradePolicy: { automaticPatchUpgrades: false },
    },
  });
  const access = await clientAccess(cp, id);
  const address = access.addresses[0]!;
  const root = (await createRootToken(cp, id)).secretId;

  // The upgrade is recorded Scheduled; its status document and result say it has not ended.
  const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
  expect(up.status, up.body).toBe(202);
  const statusUrl = String(up.headers['azure-asyncoperation']);
  const upgradeId = statusUrl.split('/operationStatuses/')[1]!.split('?')[0]!;
  for (let i = 0; i < 300 && !(await getOperation(cp.db, upgradeId))?.step?.startsWith('waiting for the maintenance window'); i++)
    await sleep(100);
  const status = JSON.parse((await arm(cp, 'GET', statusUrl)).body) as { status: string; properties: { step: string } };
  expect(status.status).toBe('Scheduled');
  expect(status.properties.step).toMatch(/^waiting for the maintenance window at /);
  expect((await arm(cp, 'GET', statusUrl.replace('/operationStatuses/', '/operationResults/'))).status).toBe(202);

  // Customer changes are refused naming it, and change nothing.
  const before = await get(id);
  for (const [method, path, body] of [
    ['PATCH', id, { properties: { serverCount: 3 } }],
    ['POST', `${id}/upgrade`, { consulVersion: newer }],
  ] as const) {
    const res = await arm(cp, method, path, body);
    expect(res.status, `${method} ${path}: ${res.body}`).toBe(409);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 'OperationInProgress', message: expect.stringContaining(upgradeId) } });
  }
  expect((await get(id)).etag).toBe(before.etag);

  // As a failed scale leaves it: Failed, with its servers still there.
  await setProvisioningState(cp.db, key, 'Failed');

  // While it waits: certificates and snapshots, under a KV client that must never fail.
  const requestedAt = Date.now();
  const first = await presented(address, access.caPem);
  const seen: Array<{ serial: string; validFrom: number; validTo: number; firstSeen: number }> = [
    { serial: first.serialNumber, validFrom: Date.parse(first.validFrom), validTo: Date.parse(first.validTo), firstSeen: requestedAt },
  ];
  const failures: string[] = [];
  const upgradeStatuses = new Set<string>();
  const states = new Set<string>();
  const expiries: Array<{ at: number; expiry: number }> = [];
  let writes = 0;
  const deadline = Date.now() + 600_000;
  const snapshotsDone = async () =>
    (await listSnapshots(cp.db, key)).filter(
      (s) => s.kind === 'AUTOMATIC' && s.state === 'COMPLETED' && Date.parse(s.requestedAt) >= requestedAt,
    );
  while (Date.now() < deadline && (seen.length < 3 || (await snapshotsDone()).length < 2)) {
    writes++;
    try {
      const res = await httpCall(`https://${address}:8501/v1/kv/waiting?raw`, {
        method: 'PUT',
        ca: access.caPem,
        headers: { 'x-consul-token': root },
        body: String(writes),
      });
      if (res.status !== 200) failures.push(`${new Date().toISOString()} KV write answered ${res.status}`);
      const cert = await presented(address, access.caPem);
      if (!seen.some((c) => c.serial === cert.serialNumber))
        seen.push({
          serial: cert.serialNumber,
          validFrom: Date.parse(cert.validFrom),
          validTo: Date.parse(cert.validTo),
          firstSeen: Date.now(),
        });
    } catch (err) {
      failures.push(`${new Date().toISOString()} ${err instanceof Error ? err.message : String(err)}`);
    }
    if (writes % 10 === 0) {
      upgradeStatuses.add((await getOperation(cp.db, upgradeId))!.status);
      const now = await get(id);
      states.add(now.properties.provisioningState);
      const expiry = now.properties.earliestServerCertificateExpiry;
      if (expiry) expiries.push({ at: Date.now(), expiry: Date.parse(expiry) });
    }
    await sleep(500);
  }
  upgradeStatuses.add((await getOperation(cp.db, upgradeId))!.status);

  states.add((await get(id)).properties.provisioningState);
  const ops = (await listOperations(cp.db, key)).filter((o) => Date.parse(o.startedAt) >= requestedAt);
  const rotations = ops.filter((o) => o.kind === 'rotate' && o.status === 'Succeeded').map((o) => Date.parse(o.startedAt));
  // When each certificate became due (two thirds of its validity, as the rotation decides) and
  // when the rotation that replaced it started (the last one before its successor was seen).
  const lateness = seen.slice(0, -1).map((c, i) => {
    const due = c.validFrom + ((c.validTo - c.validFrom) * 2) / 3;
    const started = rotations.filter((t) => t < seen[i + 1]!.firstSeen).sort((a, b) => b - a)[0];
    return started === undefined ? Infinity : started - due;
  });
  console.log(
    `[safety] ${writes} KV writes, ${failures.length} failed; certificates ${seen.length}; rotations started ` +
      `${lateness.map((ms) => `${Math.round(ms / 1000)} s`).join(', ')} after due; ${(await snapshotsDone()).length} automatic snapshots`,
  );
  expect(failures).toEqual([]);
  expect(seen.length).toBeGreaterThanOrEqual(3);
  // A rotation starts only once a certificate is due (a second of clock granularity allowed).
  for (const ms of lateness) expect(ms).toBeGreaterThanOrEqual(-1_000);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.firstSeen).toBeLessThan(seen[i - 1]!.validTo);
  // Never later than a sixth of the lifetime after it was due.
  for (const ms of lateness) expect(ms).toBeLessThanOrEqual((TTL_SECONDS * 1000) / 6);
  expect((await snapshotsDone()).length).toBeGreaterThanOrEqual(2);
  // The upgrade stayed Scheduled throughout: it never took the lock, and nothing waited for it.
  expect([...upgradeStatuses]).toEqual(['Scheduled']);
  // The cluster stayed Failed, and no safety operation failed.
  expect([...states]).toEqual(['Failed']);
  expect(ops.every((o) => o.status !== 'Failed')).toBe(true);
  // GET's earliest expiry was always in the future and moved forward with the rotations.
  expect(expiries.length).toBeGreaterThan(0);
  for (const e of expiries) expect(e.expiry).toBeGreaterThan(e.at);
  expect(Math.max(...expiries.map((e) => e.expiry))).toBeGreaterThan(seen[0]!.validTo);

  // GET now: the expiry of the certificate the server presents, and the last snapshot.
  let now = await get(id);
  const current = await presented(address, access.caPem);
  for (let i = 0; i < 20 && Date.parse(now.properties.earliestServerCertificateExpiry ?? '') !== Date.parse(current.validTo); i++) {
    await sleep(1_000);
    now = await get(id);
  }
  expect(Date.parse(now.properties.earliestServerCertificateExpiry!)).toBe(Date.parse(current.validTo));
  const lastSnapshot = Date.parse(now.properties.lastSuccessfulSnapshotTime!);
  const latestRecorded = Math.max(...(await snapshotsDone()).map((s) => Date.parse(s.requestedAt)));
  expect(lastSnapshot).toBeGreaterThanOrEqual(latestRecorded);
  expect(lastSnapshot).toBeLessThanOrEqual(Date.now());
  expect(now.properties.provisioningState).toBe('Failed');

  // Cancelled while Scheduled: Canceled at once, whatever else holds the lock.
  const cancel = await arm(
    cp,
    'POST',
    `/subscriptions/${sub}/providers/HCS.Consul/locations/westeurope/operationStatuses/${upgradeId}/cancel`,
  );
  expect(cancel.status, cancel.body).toBe(200);
  expect(JSON.parse(cancel.body)).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
  expect((await get(id)).properties.provisioningState).toBe('Failed');

  const del = await arm(cp, 'DELETE', id);
  expect(del.status, del.body).toBe(202);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 1_200_000);
