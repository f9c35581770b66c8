// Automatic patch upgrades across the fleet, on the full real stack: the control plane's fleet
// workflow starts an upgrade for a cluster whose policy asks for automatic patch upgrades and
// leaves one that does not alone; the upgrade waits for the cluster's maintenance window (days
// away), an SRE defers it and then forces it, and it completes on the newer version.
import { Client, Connection } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { UPGRADE_SIGNAL } from '../../contract/temporal.js';
import { getOperation, listOperations } from '../../store/operations.js';
import { createCluster, useControlPlane } from '../support/control-plane-fixture.js';
import { arm, followLocation, lifecycleConfig } from '../support/lifecycle.js';
import { utcWeekday } from '../support/windows.js';

const stack = inject('stack');
const [older, newer] = stack.tools.consulVersions;
const cp = useControlPlane(stack, () => ({ lifecycle: lifecycleConfig(stack) }));
let connection: Connection;
let temporal: Client;

beforeAll(async () => {
  connection = await Connection.connect({ address: stack.temporal.address });
  temporal = new Client({ connection, namespace: stack.temporal.namespace, dataConverter: { payloadCodecs: [cp.payloadCodec] } });
});
afterAll(async () => {
  await connection?.close();
});

async function create(sub: string, name: string, cidr: string, automatic: boolean): Promise<string> {
  const id = `/subscriptions/${sub}/resourceGroups/rg-fleet/providers/HCS.Consul/clusters/${name}`;
  // A window that opens in three days: nothing automatic may happen before.
  const day = utcWeekday(new Date(Date.now() + 3 * 86_400_000));
  await createCluster(cp, id, {
    location: 'westeurope',
    properties: {
      consulVersion: older,
      serverCount: 1,
      network: { cidr },
      upgradePolicy: { automaticPatchUpgrades: automatic },
      maintenanceWindow: { days: [day], startTime: '03:00', durationHours: 2, timeZone: 'Europe/Berlin' },
    },
  });
  return id;
}

it('upgrades only clusters that ask for automatic patch upgrades, in their window unless an SRE forces it', async () => {
  const sub = randomUUID();
  await cp.registerSubscription(sub);
  const [auto, manual] = await Promise.all([
    create(sub, `auto-${randomUUID().slice(0, 6)}`, '10.65.0.0/16', true),
    create(sub, `manual-${randomUUID().slice(0, 6)}`, '10.66.0.0/16', false),
  ]);
  const firing = `fleet-test-${randomUUID()}`;
  const started = await temporal.workflow.execute('fleetAutomaticUpgrades', {
    taskQueue: cp.taskQueue,
    workflowId: firing,
    args: [{ subscriptionId: sub }],
  });
  expect(started).toEqual([{ resourceKey: auto.toLowerCase(), from: older, to: newer, outcome: 'started' }]);
  expect((await listOperations(cp.db, manual.toLowerCase())).map((o) => o.kind)).toEqual(['create']);

  const [op] = await listOperations(cp.db, auto.toLowerCase());
  expect(op).toMatchObject({ kind: 'upgrade', correlationId: firing });
  const waitForStep = async (prefix: string) => {
    for (let i = 0; i < 60; i++) {
      const now = await getOperation(cp.db, op!.operationId);
      if (now?.step?.startsWith(prefix)) return now.step;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`operation never reached step "${prefix}"`);
  };
  expect(await waitForStep('waiting for the maintenance window')).toMatch(/T01:00:00\.000Z|T02:00:00\.000Z/);
  // Running the fleet again while the upgrade waits starts nothing new (one operation at a time).
  const again = await temporal.workflow.execute('fleetAutomaticUpgrades', {
    taskQueue: cp.taskQueue,
    workflowId: `fleet-test-${randomUUID()}`,
    args: [{ subscriptionId: sub }],
  });
  expect(again).toEqual([{ resourceKey: auto.toLowerCase(), from: older, to: newer, outcome: 'busy' }]);

  const handle = temporal.workflow.getHandle(op!.workflowId);
  await handle.signal(UPGRADE_SIGNAL.defer, new Date(Date.now() + 3_600_000).toISOString());
  expect(await waitForStep('deferred until')).toContain('deferred until');
  await handle.signal(UPGRADE_SIGNAL.force);
  await handle.result();
  expect(await getOperation(cp.db, op!.operationId)).toMatchObject({ status: 'Succeeded' });
  const read = JSON.parse((await arm(cp, 'GET', auto)).body) as { properties: { currentConsulVersion: string } };
  expect(read.properties.currentConsulVersion).toBe(newer);
  const untouched = JSON.parse((await arm(cp, 'GET', manual)).body) as { properties: { currentConsulVersion: string } };
  expect(untouched.properties.currentConsulVersion).toBe(older);

  for (const id of [auto, manual]) {
    const del = await arm(cp, 'DELETE', id);
    expect((await followLocation(cp, String(del.headers.location))).status).toBe(204);
  }
}, 600_000);
