// The twin as the dev stack runs it: a supervised process (main.ts) found ready through a real
// token + ARM round trip; stopping the supervisor stops the instance processes too, and a twin
// killed with SIGKILL leaves none behind (its watchdog reaps them).
import { ComputeManagementClient } from '@azure/arm-compute';
import { ClientSecretCredential } from '@azure/identity';
import { ResourceManagementClient } from '@azure/arm-resources';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { startLocalCloudService } from '../../../devstack/services/local-cloud.js';
import { freePort, Supervisor } from '../../../devstack/supervisor.js';
import { probe, probeInstanceCommand } from './testing-instance.js';
import { isProcessAlive } from '../../../lib/processes.js';

const root = mkdtempSync(join(tmpdir(), 'local-cloud-svc-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end && !cond()) await delay(100);
  return cond();
}

async function startWithOneInstance(name: string): Promise<{ sup: Supervisor; instancePid: number; cloudPid: number }> {
  const port = await freePort();
  const sup = new Supervisor({ stateDir: join(root, name, 'supervisor') });
  const dataDir = join(root, name, 'cloud');
  const e = await startLocalCloudService(sup, { dataDir, instanceCommand: probeInstanceCommand(port) });
  expect(e.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  const log = readFileSync(join(sup.logDir, 'local-cloud.log'), 'utf8');
  expect(log).toContain('local cloud listening');
  expect(log).not.toContain(e.clientSecret);

  const credential = new ClientSecretCredential(e.tenantId, e.clientId, e.clientSecret, {
    authorityHost: e.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: e.caCertPem },
  });
  const options = { endpoint: e.url, tlsOptions: { ca: e.caCertPem } };
  await new ResourceManagementClient(credential, e.subscriptionId, options).resourceGroups.createOrUpdate('rg', { location: 'westeurope' });
  const compute = new ComputeManagementClient(credential, e.subscriptionId, options);
  await compute.virtualMachineScaleSets.createOrUpdate(
    'rg',
    'one',
    {
      location: 'westeurope',
      sku: { name: 'Standard_B2s', capacity: 1 },
      virtualMachineProfile: { osProfile: { computerNamePrefix: 'one' } },
    },
    { updateIntervalInMs: 200 },
  );
  const state = JSON.parse(readFileSync(join(dataDir, 'state.json'), 'utf8')) as {
    scaleSets: Record<string, { instances: Array<{ privateIp: string }> }>;
  };
  const ip = Object.values(state.scaleSets)[0]!.instances[0]!.privateIp;
  const { pid } = await probe(ip, port);
  expect(isProcessAlive(pid)).toBe(true);
  const cloudPid = (JSON.parse(readFileSync(join(dataDir, 'endpoint.json'), 'utf8')) as { pid: number }).pid;
  return { sup, instancePid: pid, cloudPid };
}

it('runs under the supervisor, serves the SDKs and stops its instances with it', async () => {
  const { sup, instancePid } = await startWithOneInstance('graceful');
  try {
    await sup.stop();
    expect(await until(() => !isProcessAlive(instancePid), 10_000)).toBe(true);
  } finally {
    await sup.stop();
  }
});

it('leaves no instance behind when the twin is killed with SIGKILL', async () => {
  const { sup, instancePid, cloudPid } = await startWithOneInstance('killed');
  try {
    process.kill(cloudPid, 'SIGKILL');
    expect(await until(() => !isProcessAlive(instancePid), 10_000)).toBe(true);
  } finally {
    await sup.stop();
  }
});
