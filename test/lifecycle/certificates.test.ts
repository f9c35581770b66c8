// Certificate rotation on the full real stack: server certificates that live 90 seconds, a
// certificate schedule that checks every 15 seconds and renews at two thirds of the lifetime.
// While clients keep calling every server's HTTPS API (verifying against the cluster CA), the
// certificates each server presents change at least twice, with no failed request; every
// rotation shows as a `rotate` operation that succeeded.
import { randomUUID, X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { expect, inject, it } from 'vitest';
import { httpCall } from '../../lib/http.js';
import { listOperations } from '../../store/operations.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import { arm, clientAccess, clusterWorkflows, createRootToken, followLocation, lifecycleConfig } from '../support/lifecycle.js';

const stack = inject('stack');
const TTL_HOURS = 90 / 3600;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack, { serverCertTtlHours: TTL_HOURS }) }));

/** The serial of the certificate a server presents on its HTTPS port. */
function presentedSerial(address: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 8501, ca, servername: 'server.dc1.consul', allowPartialTrustChain: true }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (!cert) reject(new Error('no certificate'));
      else resolve(cert.serialNumber);
    });
    socket.on('error', reject);
  });
}

it('rotates every server certificate twice with no failed client request', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-certs/providers/HCS.Consul/clusters/certs-${randomUUID().slice(0, 6)}`;
  const version = stack.tools.consulVersions.at(-1)!;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: version, serverCount: 3, network: { cidr: '10.64.0.0/16' } },
  });
  const access = await clientAccess(cp, id);
  const root = (await createRootToken(cp, id)).secretId;
  const first = await presentedSerial(access.addresses[0]!, access.caPem);
  const lifetime = new X509Certificate(
    await new Promise<string>((resolve, reject) => {
      const s = connect(
        { host: access.addresses[0]!, port: 8501, ca: access.caPem, servername: 'server.dc1.consul', allowPartialTrustChain: true },
        () => {
          resolve(s.getPeerX509Certificate()!.toString());
          s.end();
        },
      );
      s.on('error', reject);
    }),
  );
  expect(Date.parse(lifetime.validTo) - Date.parse(lifetime.validFrom)).toBeLessThanOrEqual(130_000);

  const seen = access.addresses.map(() => new Set<string>());
  let requests = 0;
  const failures: string[] = [];
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline && !seen.every((s) => s.size >= 3)) {
    for (const [i, address] of access.addresses.entries()) {
      requests++;
      try {
        const res = await httpCall(`https://${address}:8501/v1/kv/rotation?raw`, {
          method: 'PUT',
          ca: access.caPem,
          headers: { 'x-consul-token': root },
          body: String(requests),
        });
        if (res.status !== 200) failures.push(`${address}: ${res.status}`);
        seen[i]!.add(await presentedSerial(address, access.caPem));
      } catch (err) {
        failures.push(`${address}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  console.log(
    `[certificates] ${requests} requests, ${failures.length} failed; serials seen per server: ${seen.map((s) => s.size).join(', ')}`,
  );
  expect(seen[0]!.has(first)).toBe(true);
  // The first certificate and at least two renewals on every server.
  for (const s of seen) expect(s.size).toBeGreaterThanOrEqual(3);
  expect(failures).toEqual([]);
  // The schedule's own firings carry the cluster's search attributes too, so SREs find them.
  const workflows = await clusterWorkflows(stack, cp.payloadCodec, id.toLowerCase());
  expect(workflows.some((w) => /^certificates\/.*\/scheduled/.test(w))).toBe(true);
  const rotations = (await listOperations(cp.db, id.toLowerCase())).filter((o) => o.kind === 'rotate');
  expect(rotations.length).toBeGreaterThanOrEqual(2);
  expect(rotations.every((o) => o.status === 'Succeeded' || o.status === 'Running')).toBe(true);

  // A rotation may be running right now: the one-operation rule holds for delete too (409).
  let del = await arm(cp, 'DELETE', id);
  for (let i = 0; i < 60 && del.status === 409; i++) {
    await new Promise((r) => setTimeout(r, 1_000));
    del = await arm(cp, 'DELETE', id);
  }
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 600_000);
