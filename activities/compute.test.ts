// The compute activity through the official @azure/arm-compute client against the ARM twin:
// list, instance view, restart and reimage, and a retried activity that resumes the poller its
// previous attempt saved in a heartbeat instead of starting a second restart.
import { ComputeManagementClient } from '@azure/arm-compute';
import { NetworkManagementClient } from '@azure/arm-network';
import { ResourceManagementClient } from '@azure/arm-resources';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestCloud, type TestCloud } from '../apps/local-cloud/src/testing.js';
import { createComputeActivities, type ComputeActivities } from './compute.js';

const RG = 'rg-compute-activity';
let t: TestCloud;
/** Runs one activity in a fresh mock activity environment (or the one given). */
const run = <A, R>(fn: (a: A) => Promise<R>, a: A, env = new MockActivityEnvironment()): Promise<R> =>
  env.run<[A], R, (a: A) => Promise<R>>(fn, a);
let activities: ComputeActivities;
const posts: string[] = [];

// Counts the long-running calls the client really sends (restart and reimage are POSTs).
const countPosts: PipelinePolicy = {
  name: 'countPosts',
  sendRequest: async (req, next) => {
    if (req.method === 'POST') posts.push(new URL(req.url).pathname.split('/').pop()!);
    return next(req);
  },
};

beforeAll(async () => {
  t = await startTestCloud({ operationDelayMs: 600 });
  const sub = t.cloud.subscriptionId;
  await new ResourceManagementClient(t.credential, sub, t.clientOptions).resourceGroups.createOrUpdate(RG, { location: 'westeurope' });
  const vnet = await new NetworkManagementClient(t.credential, sub, t.clientOptions).virtualNetworks.beginCreateOrUpdateAndWait(
    RG,
    'vnet',
    {
      location: 'westeurope',
      addressSpace: { addressPrefixes: ['10.30.0.0/16'] },
      subnets: [{ name: 'servers', addressPrefix: '10.30.1.0/24' }],
    },
    { updateIntervalInMs: 100 },
  );
  const compute = new ComputeManagementClient(t.credential, sub, {
    ...t.clientOptions,
    additionalPolicies: [{ policy: countPosts, position: 'perCall' }],
  });
  await compute.virtualMachineScaleSets.beginCreateOrUpdateAndWait(
    RG,
    'server-0',
    {
      location: 'westeurope',
      sku: { name: 'Standard_B2s', tier: 'Standard', capacity: 1 },
      zones: ['2'],
      upgradePolicy: { mode: 'Manual' },
      virtualMachineProfile: {
        osProfile: { computerNamePrefix: 'server-0', adminUsername: 'azureuser', customData: Buffer.from('{}').toString('base64') },
        storageProfile: { imageReference: { publisher: 'Canonical', offer: 'ubuntu-24_04-lts', sku: 'server', version: 'latest' } },
        networkProfile: {
          networkInterfaceConfigurations: [
            { name: 'nic', primary: true, ipConfigurations: [{ name: 'ip', subnet: { id: vnet.subnets![0]!.id! } }] },
          ],
        },
      },
    },
    { updateIntervalInMs: 100 },
  );
  activities = createComputeActivities({ compute, pollIntervalInMs: 100 });
});
afterAll(async () => {
  await t?.dispose();
});

it('lists the instances with zone and power state, and reads an instance view', async () => {
  const [instance] = await run(activities.listInstances, { resourceGroup: RG, scaleSet: 'server-0' });
  expect(instance).toMatchObject({ zone: '2', provisioningState: 'Succeeded', powerState: 'running' });
  const view = await run(activities.getInstanceView, { resourceGroup: RG, scaleSet: 'server-0', instanceId: instance!.instanceId });
  expect(view.powerState).toBe('running');
});

it('restarts and reimages through the pollers', async () => {
  const [instance] = await run(activities.listInstances, { resourceGroup: RG, scaleSet: 'server-0' });
  const ref = { resourceGroup: RG, scaleSet: 'server-0', instanceId: instance!.instanceId };
  posts.length = 0;
  await run(activities.restartInstance, ref);
  await run(activities.reimageInstance, ref);
  expect(posts).toEqual(['restart', 'reimage']);
});

it('resumes the saved poller on retry instead of restarting the instance a second time', async () => {
  const [instance] = await run(activities.listInstances, { resourceGroup: RG, scaleSet: 'server-0' });
  const ref = { resourceGroup: RG, scaleSet: 'server-0', instanceId: instance!.instanceId };
  posts.length = 0;
  // First attempt: starts the restart, heartbeats the poller's state, then is cancelled (as a
  // worker crash or a heartbeat timeout would end it) before the operation finished.
  const first = new MockActivityEnvironment();
  let saved: unknown;
  first.on('heartbeat', (d: unknown) => {
    saved ??= d;
    first.cancel('TIMED_OUT');
  });
  await expect(run(activities.restartInstance, ref, first)).rejects.toThrow();
  expect(saved).toMatchObject({ pollerState: expect.any(String) as string });

  // The retry gets the last heartbeat's details, as Temporal hands them to the next attempt.
  const retry = new MockActivityEnvironment({ heartbeatDetails: saved, attempt: 2 });
  await run(activities.restartInstance, ref, retry);
  expect(posts).toEqual(['restart']);
  const view = await run(activities.getInstanceView, ref);
  expect(view.powerState).toBe('running');
});
