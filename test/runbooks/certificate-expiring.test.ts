// docs/runbooks/certificate-expiring.md on the real stack. A 1-server cluster with 150-second
// server certificates (checked every 12 s, due after 100 s): right after its create, someone pauses
// its certificate schedule, so the certificate passes two thirds of its life with nothing rotating
// it (checked: the expiry stays where it was). The runbook's steps then run as written: the expiry
// from the API, the certificate the server presents (openssl), no rotate operation, the schedule
// described as paused; unpaused and triggered, a rotate operation replaces the certificate before
// the old one expires. Afterwards the server presents a new certificate (another serial, a later
// end) and the operations list holds a Succeeded rotate.
import { randomUUID, type X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { expect, inject, it, vi } from 'vitest';
import { certificateScheduleId } from '../../domain/certificate-schedule.js';
import { createCluster, useControlPlane, useTemporalClient } from '../support/control-plane-fixture.js';
import { arm, clientAccess, followLocation, lifecycleConfig } from '../support/lifecycle.js';
import { runbookEnvironment, REPO_ROOT } from './environment.js';
import { openRunbook } from './runbook.js';

const stack = inject('stack');
const TTL_SECONDS = 150;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack, { serverCertTtlHours: TTL_SECONDS / 3600 }) }), {
  requirePostgres: 'the runbooks use psql and the Terraform state on PostgreSQL',
});
const temporal = useTemporalClient(stack);

/** The certificate a server presents on Consul's HTTPS port. */
function presented(address: string, ca: string): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port: 8501, ca, servername: 'server.dc1.consul', allowPartialTrustChain: true }, () => {
      const cert = socket.getPeerX509Certificate();
      socket.end();
      if (cert) resolve(cert);
      else reject(new Error(`${address} presented no certificate`));
    });
    socket.on('error', reject);
  });
}

/** A serial as hex without leading zeros, upper case (openssl pads to whole bytes, Node may not). */
const serial = (hex: string) => hex.replace(/:/g, '').toUpperCase().replace(/^0+/, '');
const serials = (out: string) => [...out.matchAll(/^serial=([0-9A-Fa-f]+)$/gm)].map((m) => serial(m[1]!));
const notAfters = (out: string) => [...out.matchAll(/^notAfter=(.+)$/gm)].map((m) => Date.parse(m[1]!));

it('finds the paused certificate schedule, unpauses and triggers it, and the server presents a new certificate', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const id = `/subscriptions/${sub}/resourceGroups/rg-runbook/providers/HCS.Consul/clusters/expiring-${randomUUID().slice(0, 6)}`;
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: { consulVersion: stack.tools.consulVersions.at(-1)!, serverCount: 1, network: { cidr: '10.92.0.0/16' } },
  });
  // The stall: the cluster's certificate schedule paused by hand.
  await temporal.schedule.getHandle(certificateScheduleId(id.toLowerCase())).pause('paused by hand (runbook test)');
  const access = await clientAccess(cp, id);
  const address = access.addresses[0]!;
  const old = await presented(address, access.caPem);
  const expiry = async () =>
    (JSON.parse((await arm(cp, 'GET', id)).body) as { properties: { earliestServerCertificateExpiry: string } }).properties
      .earliestServerCertificateExpiry;
  const oldEnd = Date.parse(old.validTo);
  expect(Date.parse(await expiry())).toBe(oldEnd);

  // Wait until the certificate is due (two thirds of its life) and one more check interval (12 s)
  // has passed: paused, nothing rotates it.
  const life = oldEnd - Date.parse(old.validFrom);
  const due = Date.parse(old.validFrom) + (life * 2) / 3;
  await new Promise((r) => setTimeout(r, Math.max(0, due + 13_000 - Date.now())));
  expect(Date.parse(await expiry())).toBe(oldEnd);
  expect((await presented(address, access.caPem)).serialNumber).toBe(old.serialNumber);

  const { env } = runbookEnvironment(stack, cp, id);
  const book = openRunbook('certificate-expiring.md', env, REPO_ROOT);
  const left = await book.run('expiry');
  expect(left.stdout.split('\n')[0]).toBe(await expiry());
  const secondsLeft = Number(/seconds left: (-?\d+)/.exec(left.stdout)?.[1]);
  expect(secondsLeft).toBeGreaterThan(0);
  expect(secondsLeft).toBeLessThan(life / 3000);

  const shown = await book.run('presented-certificates');
  expect(shown.stdout).toContain(`== ${address}`);
  expect(serials(shown.stdout)).toEqual([serial(old.serialNumber)]);
  expect(notAfters(shown.stdout)).toEqual([oldEnd]);

  expect((await book.run('rotate-operations')).stdout.trim()).toBe('');
  const schedule = JSON.parse((await book.run('schedule')).stdout) as { paused: boolean; note: string };
  expect(schedule).toMatchObject({ paused: true, note: 'paused by hand (runbook test)' });

  await book.run('unpause-and-trigger');
  const confirmed = await book.run('confirm');
  expect(confirmed.stdout).toContain('servers still presenting the old certificate: 0');

  // A new certificate is in place: another serial, a later end, before the old one expired.
  const now = await presented(address, access.caPem);
  expect(now.serialNumber).not.toBe(old.serialNumber);
  expect(Date.parse(now.validTo)).toBeGreaterThan(oldEnd);
  expect(Date.now()).toBeLessThan(oldEnd);
  expect(Date.parse(await expiry())).toBeGreaterThan(oldEnd);
  expect(serials(confirmed.stdout)).toEqual([serial(now.serialNumber)]);
  // The servers present the new certificate before the rotate operation ends (it still confirms
  // what every server serves and refreshes the endpoint); it ends Succeeded.
  const rotations = async () => {
    const ops = JSON.parse((await arm(cp, 'GET', `${id}/operations`)).body) as {
      value: Array<{ status: string; properties: { kind: string } }>;
    };
    return ops.value.filter((o) => o.properties.kind === 'rotate').map((o) => o.status);
  };
  await vi.waitFor(async () => expect(await rotations()).toContain('Succeeded'), { timeout: 60_000, interval: 500 });
  expect(book.unrun()).toEqual([]);

  const del = await arm(cp, 'DELETE', id);
  expect(del.status, del.body).toBe(202);
  expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
}, 600_000);
