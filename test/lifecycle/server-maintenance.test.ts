// Issue 17 item 3 on the full real stack: a 3-server cluster with a maintenance window hours away.
// restartServer without force stays Scheduled (nothing restarted) until an SRE forces it by
// signal; the leader's restart moves leadership first, the VM restarts through the compute API
// (the twin: a new host-manager and Consul process on the same disk, same node id) and the
// operation ends once the server is back and the cluster healthy. repairServer (forced) reimages
// a follower: a new Consul node id at the same address, three voters again, and the KV written
// before is read back from the repaired server itself. rotateCertificates replaces every server
// certificate now. Each operation ends Succeeded with progress, and provisioningState stays.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:tls';
import { expect, inject, it } from 'vitest';
import { UPGRADE_SIGNAL } from '../../contract/temporal.js';
import { httpCall } from '../../lib/http.js';
import { getClusterServers } from '../../store/clusters.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { createCluster, useControlPlane, useTemporalClient } from '../support/control-plane-fixture.js';
import {
  arm,
  clientAccess,
  consulCall,
  createRootToken,
  followLocation,
  lifecycleConfig,
  type ClusterAccess,
} from '../support/lifecycle.js';

const stack = inject('stack');
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }));
const temporal = useTemporalClient(stack);

/** The certificate a server presents on its HTTPS port (serial number). */
function presentedSerial(address: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 8501, ca: caPem, servername: 'server.dc1.consul', rejectUnauthorized: false }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error(`${address} presented no certificate`));
      else resolve(cert.serialNumber);
    });
    socket.on('error', reject);
  });
}

async function nodeId(access: ClusterAccess, address: string, token: string): Promise<string> {
  const res = await consulCall(access, address, '/v1/agent/self', token);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { Config: { NodeID: string } }).Config.NodeID;
}

async function voters(access: ClusterAccess, address: string, token: string): Promise<string[]> {
  const res = await consulCall(access, address, '/v1/operator/raft/configuration', token);
  expect(res.status, res.body).toBe(200);
  return (JSON.parse(res.body) as { Servers: Array<{ Address: string; Voter: boolean }> }).Servers.filter((s) => s.Voter).map(
    (s) => s.Address.split(':')[0]!,
  );
}

it('restarts, repairs and rotates on request: windows respected unless forced, servers back healthy, data kept', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-maint/providers/HCS.Consul/clusters/mnt-${randomUUID().slice(0, 6)}`;
  // A daily window that opens in twelve hours: closed for the whole test.
  const opens = new Date(Date.now() + 12 * 3_600_000);
  const startTime = `${String(opens.getUTCHours()).padStart(2, '0')}:${String(opens.getUTCMinutes()).padStart(2, '0')}`;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: {
      serverCount: 3,
      network: { cidr: '10.66.0.0/16' },
      maintenanceWindow: {
        days: ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'],
        startTime,
        durationHours: 1,
        timeZone: 'UTC',
      },
    },
  });
  const key = id.toLowerCase();
  const access = await clientAccess(cp, id);
  const root = (await createRootToken(cp, id)).secretId;
  const servers = await getClusterServers(cp.db, key);
  expect(servers).toHaveLength(3);
  const addresses = servers.map((s) => s.address);
  const leaderOf = async () => {
    for (const a of addresses) {
      const res = await consulCall(access, a, '/v1/status/leader', root).catch(() => undefined);
      const leader = res?.status === 200 ? (JSON.parse(res.body) as string).split(':')[0] : '';
      if (leader) return leader;
    }
    throw new Error('no leader');
  };
  const kv = await httpCall(`https://${addresses[0]}:8501/v1/kv/before-maintenance`, {
    method: 'PUT',
    ca: access.caPem,
    headers: { 'x-consul-token': root },
    body: 'kept',
  });
  expect(kv.status, kv.body).toBe(200);

  // restartServer on the leader, not forced: Scheduled, waiting for the window; nothing restarts.
  const leader = await leaderOf();
  const target = servers.find((s) => s.address === leader)!;
  const pidBefore = (JSON.parse((await httpCall(`http://${leader}:9701/status`)).body) as { consulPid: number }).consulPid;
  const idBefore = await nodeId(access, leader, root);
  const restart = await arm(cp, 'POST', `${id}/restartServer`, { serverIndex: target.index });
  expect(restart.status, restart.body).toBe(202);
  const restartOp = (await listOperations(cp.db, key)).find((o) => o.kind === 'restart')!;
  for (let deadline = Date.now() + 120_000; ;) {
    const op = await getOperation(cp.db, restartOp.operationId);
    if (op?.step?.startsWith('waiting for the maintenance window at ')) break;
    if (Date.now() > deadline) throw new Error(`the restart never waited for the window (step ${op?.step})`);
    await new Promise((r) => setTimeout(r, 500));
  }
  expect((await getOperation(cp.db, restartOp.operationId))?.status).toBe('Scheduled');
  expect((JSON.parse((await httpCall(`http://${leader}:9701/status`)).body) as { consulPid: number }).consulPid).toBe(pidBefore);

  // rotateCertificates runs beside the waiting restart and replaces every certificate now.
  const serialsBefore = await Promise.all(addresses.map((a) => presentedSerial(a, access.caPem)));
  const rotate = await arm(cp, 'POST', `${id}/rotateCertificates`);
  expect(rotate.status, rotate.body).toBe(202);
  const rotated = await followLocation(cp, String(rotate.headers.location), 600_000);
  expect(rotated.status, rotated.body).toBe(200);
  expect((await listOperations(cp.db, key)).find((o) => o.kind === 'rotate')).toMatchObject({ status: 'Succeeded', percentComplete: 100 });
  for (let deadline = Date.now() + 120_000; ;) {
    const now = await Promise.all(addresses.map((a) => presentedSerial(a, access.caPem).catch(() => '')));
    if (now.every((s, i) => s && s !== serialsBefore[i])) break;
    if (Date.now() > deadline) throw new Error(`not every server presents a new certificate: ${now.join(', ')}`);
    await new Promise((r) => setTimeout(r, 1_000));
  }

  // An SRE forces the restart: leadership moves, the VM restarts (a new Consul process, same node).
  await temporal.workflow.getHandle(restartOp.workflowId).signal(UPGRADE_SIGNAL.force);
  const restarted = await followLocation(cp, String(restart.headers.location), 900_000);
  expect(restarted.status, restarted.body).toBe(200);
  const doneRestart = await getOperation(cp.db, restartOp.operationId);
  expect(doneRestart).toMatchObject({ status: 'Succeeded', percentComplete: 100 });
  // The operation ended once the server's own Consul answered healthy; host-manager answers too.
  const pidAfter = (JSON.parse((await httpCall(`http://${leader}:9701/status`)).body) as { consulPid: number }).consulPid;
  expect(pidAfter).not.toBe(pidBefore);
  expect(await nodeId(access, leader, root)).toBe(idBefore);
  expect((await voters(access, leader, root)).sort()).toEqual([...addresses].sort());

  // repairServer, forced, on a follower: reimaged (a new node id at the same address), rejoined.
  const leaderNow = await leaderOf();
  const follower = servers.find((s) => s.address !== leaderNow)!;
  const followerIdBefore = await nodeId(access, follower.address, root);
  const repair = await arm(cp, 'POST', `${id}/repairServer`, { serverIndex: follower.index, force: true });
  expect(repair.status, repair.body).toBe(202);
  const repaired = await followLocation(cp, String(repair.headers.location), 900_000);
  expect(repaired.status, repaired.body).toBe(200);
  expect(await nodeId(access, follower.address, root)).not.toBe(followerIdBefore);
  expect((await voters(access, follower.address, root)).sort()).toEqual([...addresses].sort());
  const read = await httpCall(`https://${follower.address}:8501/v1/kv/before-maintenance?raw&stale`, {
    ca: access.caPem,
    headers: { 'x-consul-token': root },
  });
  expect(read.status, read.body).toBe(200);
  expect(read.body).toBe('kept');

  const view = JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { provisioningState: string } };
  expect(view.properties.provisioningState).toBe('Succeeded');
  const del = await arm(cp, 'DELETE', id);
  expect(del.status).toBe(202);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 2_400_000);
