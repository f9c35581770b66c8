// Issue 12, item 1 on the full real stack: certificate rotation and automatic snapshots run
// whenever the cluster has servers, whatever its provisioningState, and a failed or cancelled
// day-2 operation does not change that state. A 1-server cluster with 3-minute server
// certificates (renewed at two thirds of their life, checked every sixth) and a 47-second
// snapshot schedule: a real upgrade that waits for its window is cancelled (the operation ends
// Canceled, the cluster stays Succeeded); then the cluster is marked Failed in the store, as a
// failed scale leaves it. While a client keeps writing KV over TLS (verified against the
// cluster's CA, so an expired certificate fails the handshake), the server's certificate is
// replaced at least twice, each time before the one it replaces expires, automatic snapshots
// keep coming, and the cluster stays Failed throughout: safety work neither stops on a Failed
// cluster nor pretends the failed provisioning succeeded.
import { randomUUID, type X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { setProvisioningState } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { listSnapshots } from '../../store/snapshots.js';
import { startControlPlane, type ControlPlane } from '../api/harness.js';
import { arm, clientAccess, createRootToken, followLocation, lifecycleConfig } from '../support/lifecycle.js';

const stack = inject('stack');
const [older, newer] = [stack.tools.consulVersions[0]!, stack.tools.consulVersions.at(-1)!];
const TTL_SECONDS = 180;
// A schedule's phase is the second it was made, and create makes both in the same second: an
// interval sharing factors with the certificate check's (30 s here) would make some checks fall
// on a snapshot firing every time and be skipped (one operation at a time). A prime keeps the
// collisions rare and never two checks in a row.
const SNAPSHOT_INTERVAL_SECONDS = 47;
let cp: ControlPlane;

beforeAll(async () => {
  cp = await startControlPlane(stack, {
    lifecycle: {
      ...lifecycleConfig(stack, { serverCertTtlHours: TTL_SECONDS / 3600 }),
      snapshotIntervalSeconds: SNAPSHOT_INTERVAL_SECONDS,
    },
  });
});
afterAll(async () => {
  await cp?.close();
});

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

const provisioningState = async (id: string) =>
  (JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { provisioningState: string } }).properties.provisioningState;

it('keeps rotating certificates and taking snapshots on a Failed cluster, and a cancelled upgrade changes no state', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-safety/providers/HCS.Consul/clusters/safety-${randomUUID().slice(0, 6)}`;
  const key = id.toLowerCase();
  // The maintenance window opens hours from now: an upgrade asked for now waits.
  const opens = new Date(Date.now() + 3 * 3_600_000);
  const day = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][opens.getUTCDay()]!;
  const put = await arm(cp, 'PUT', id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 1,
      network: { cidr: '10.67.0.0/16' },
      maintenanceWindow: {
        days: [day],
        startTime: `${String(opens.getUTCHours()).padStart(2, '0')}:00`,
        durationHours: 1,
        timeZone: 'UTC',
      },
      upgradePolicy: { automaticPatchUpgrades: false },
    },
  });
  expect(put.status, put.body).toBe(201);
  const created = await followLocation(
    cp,
    String(put.headers['azure-asyncoperation']).replace('/operationStatuses/', '/operationResults/'),
  );
  expect(created.status, created.body).toBe(200);
  const access = await clientAccess(cp, id);
  const address = access.addresses[0]!;
  const root = (await createRootToken(cp, id)).secretId;
  const first = await presented(address, access.caPem);
  expect(Date.parse(first.validTo) - Date.parse(first.validFrom)).toBeLessThanOrEqual((TTL_SECONDS + 40) * 1000);

  // A real day-2 operation cancelled: the upgrade waits for its window, then is cancelled.
  const up = await arm(cp, 'POST', `${id}/upgrade`, { consulVersion: newer });
  expect(up.status, up.body).toBe(202);
  const upgrade = (await listOperations(cp.db, key)).find((o) => o.kind === 'upgrade')!;
  for (let i = 0; i < 300 && !(await getOperation(cp.db, upgrade.operationId))?.step?.startsWith('waiting for the maintenance window'); i++)
    await new Promise((r) => setTimeout(r, 100));
  const cancel = await arm(
    cp,
    'POST',
    `/subscriptions/${sub}/providers/HCS.Consul/locations/westeurope/operationStatuses/${upgrade.operationId}/cancel`,
  );
  expect(cancel.status, cancel.body).toBe(200);
  for (let i = 0; i < 300 && (await getOperation(cp.db, upgrade.operationId))!.status === 'Canceling'; i++)
    await new Promise((r) => setTimeout(r, 100));
  expect(await getOperation(cp.db, upgrade.operationId)).toMatchObject({ status: 'Canceled', error: { code: 'OperationCanceled' } });
  expect(await provisioningState(id)).toBe('Succeeded');

  // As a failed scale leaves it: Failed, with its servers still there.
  await setProvisioningState(cp.db, key, 'Failed');
  const failedAt = Date.now();

  const certificates = new Map<string, { validTo: number; firstSeen: number }>([
    [first.serialNumber, { validTo: Date.parse(first.validTo), firstSeen: failedAt }],
  ]);
  const failures: string[] = [];
  const states = new Set<string>();
  let writes = 0;
  const deadline = Date.now() + 540_000;
  while (Date.now() < deadline && certificates.size < 3) {
    writes++;
    try {
      const res = await httpCall(`https://${address}:8501/v1/kv/safety?raw`, {
        method: 'PUT',
        ca: access.caPem,
        headers: { 'x-consul-token': root },
        body: String(writes),
      });
      if (res.status !== 200) failures.push(`${new Date().toISOString()} KV write answered ${res.status}`);
      const cert = await presented(address, access.caPem);
      if (!certificates.has(cert.serialNumber))
        certificates.set(cert.serialNumber, { validTo: Date.parse(cert.validTo), firstSeen: Date.now() });
    } catch (err) {
      failures.push(`${new Date().toISOString()} ${err instanceof Error ? err.message : String(err)}`);
    }
    if (writes % 20 === 0) states.add(await provisioningState(id));
    await new Promise((r) => setTimeout(r, 500));
  }
  states.add(await provisioningState(id));
  const seen = [...certificates.values()];
  console.log(
    `[safety] ${writes} KV writes, ${failures.length} failed; certificates seen ${seen.length}; ` +
      `each replaced ${seen
        .slice(1)
        .map((c, i) => `${Math.round((seen[i]!.validTo - c.firstSeen) / 1000)} s`)
        .join(', ')} before its predecessor expired`,
  );
  // The first certificate and two renewals, each in place before the one it replaced expired.
  expect(seen.length).toBeGreaterThanOrEqual(3);
  for (let i = 1; i < seen.length; i++) expect(seen[i]!.firstSeen).toBeLessThan(seen[i - 1]!.validTo);
  expect(failures).toEqual([]);
  // The cluster stayed Failed: safety work never reported the failed provisioning as fixed.
  expect([...states]).toEqual(['Failed']);

  const since = (o: { startedAt: string }) => Date.parse(o.startedAt) >= failedAt;
  const ops = (await listOperations(cp.db, key)).filter(since);
  const rotations = ops.filter((o) => o.kind === 'rotate');
  expect(rotations.filter((o) => o.status === 'Succeeded').length).toBeGreaterThanOrEqual(2);
  const snapshots = ops.filter((o) => o.kind === 'snapshot' && o.correlationId?.startsWith('snapshots/'));
  expect(snapshots.filter((o) => o.status === 'Succeeded').length).toBeGreaterThanOrEqual(1);
  expect((await listSnapshots(cp.db, key)).some((s) => s.kind === 'AUTOMATIC' && s.state === 'COMPLETED')).toBe(true);
  expect(ops.every((o) => o.status !== 'Failed')).toBe(true);

  // Delete is accepted on a Failed cluster (waiting out a rotation or snapshot that may be running).
  let del = await arm(cp, 'DELETE', id);
  for (let i = 0; i < 60 && del.status === 409; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    del = await arm(cp, 'DELETE', id);
  }
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 1_200_000);
