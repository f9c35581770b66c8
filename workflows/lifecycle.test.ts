// The lifecycle workflows' own logic, on the real Temporal server with stand-in activities
// (recording fakes of our own activity interfaces): the order of steps and the progress they
// report, the scale-down path, typed non-retryable failures, exhausted retries and cancellation.
// The real activities are exercised end to end in test/lifecycle/.
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import type { DeleteQueueActivities } from '../activities/delete-queue.js';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import { GATE_TIMEOUT_ATTEMPTS } from '../activities/polling.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import { Context } from '@temporalio/activity';
import type { SnapshotActivities } from '../activities/snapshots.js';
import type { StoreActivities } from '../activities/store.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { useTemporalClient, useWorkflowWorker } from '../test/support/control-plane-fixture.js';

const stack = inject('stack');
const taskQueue = `lifecycle-logic-${randomUUID()}`;

interface World {
  serverCount: number;
  previous: ServerInfo[];
  calls: string[];
  progress: string[];
  failed?: { status: string; error: { code: string; message: string } };
  completed: boolean;
  applyFails?: () => never;
  healthFails?: () => never;
  applyBlocks?: boolean;
  pkiFails?: () => never;
  containerFails?: () => never;
  endpointFails?: () => never;
  /** The health gate waits (heartbeating) until it is cancelled. */
  gateWaits?: boolean;
  gateCancelled?: boolean;
}
const worlds = new Map<string, World>();
const world = (resourceKey: string) => worlds.get(resourceKey)!;
const server = (index: number): ServerInfo => ({
  index,
  name: `s-${index}`,
  zone: String((index % 3) + 1),
  address: `127.9.0.${index + 2}`,
});

const store: StoreActivities = {
  recordProgress: async (a) => {
    for (const w of worlds.values()) if (w.calls.includes(`op:${a.operationId}`)) w.progress.push(`${a.step}:${a.percentComplete}`);
  },
  claimOperation: async () => ({ claimed: true }),
  completeOperation: async (a) => void (world(a.resourceKey).completed = true),
  completeDelete: async (a) => void (world(a.resourceKey).completed = true),
  failOperation: async (a) => void (world(a.resourceKey).failed = { status: a.status, error: a.error }),
};

function plan(resourceKey: string): ClusterPlan {
  return {
    resourceKey,
    name: 'logic',
    location: 'westeurope',
    datacenter: 'dc1',
    serverCount: world(resourceKey).serverCount,
    consulVersion: '1.22.7',
    cidr: '10.0.0.0/16',
    publicEndpoint: false,
    owner: { clusterId: '0'.repeat(32) },
    infraResourceGroup: 'rg',
    fqdn: 'logic.example',
    container: 'cluster-logic',
    terraformState: 'hcs_logic',
  };
}

const record =
  (name: string) =>
  async (a: { resourceKey?: string; plan?: ClusterPlan }): Promise<never> => {
    world(a.resourceKey ?? a.plan!.resourceKey).calls.push(name);
    return undefined as never;
  };

const lifecycle: Partial<ClusterActivities> = {
  loadClusterPlan: async (a) => (world(a.resourceKey).calls.push('loadClusterPlan'), plan(a.resourceKey)),
  loadClusterServers: async (a) => world(a.resourceKey).previous,
  ensureClusterSecrets: record('ensureClusterSecrets'),
  ensureClusterPki: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push('ensureClusterPki');
    // Slower than the container: its failure comes second.
    await new Promise((r) => setTimeout(r, 300));
    w.pkiFails?.();
    return { mount: 'pki-x', fingerprint256: '' };
  },
  ensureClusterContainer: async (a) => {
    world(a.resourceKey).calls.push('ensureClusterContainer');
    world(a.resourceKey).containerFails?.();
    return { container: 'c' };
  },
  retireServers: async (a) => {
    world(a.plan.resourceKey).calls.push(`retireServers:${a.retiring.map((s) => s.index).join(',')}`);
    return { left: [], removed: [] };
  },
  applyInfrastructure: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push(`applyInfrastructure:${a.serverCount}`);
    w.applyFails?.();
    while (w.applyBlocks) await new Promise((r) => setTimeout(r, 100));
    return { servers: Array.from({ length: a.serverCount }, (_, i) => server(i)), publicIpAddress: null };
  },
  publishServerFiles: async (a) => {
    world(a.plan.resourceKey).calls.push(`publishServerFiles:${a.servers.length}:${a.bootstrapExpect}`);
    return { certificatesIssued: 0 };
  },
  unpublishServers: async (a) => {
    world(a.resourceKey).calls.push(`unpublishServers:${a.keepCount}`);
    return { removed: 0 };
  },
  pruneRaftPeers: async (a) => {
    world(a.plan.resourceKey).calls.push(`pruneRaftPeers:${a.servers.length}`);
    return { removed: [] };
  },
  waitForHealthyCluster: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push('waitForHealthyCluster');
    w.healthFails?.();
    while (w.gateWaits) {
      Context.current().heartbeat();
      if (Context.current().cancellationSignal.aborted) {
        w.gateCancelled = true;
        throw Context.current().cancellationSignal.reason;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { leader: 'x', voters: a.servers.length };
  },
  configureAcls: async (a) => (world(a.plan.resourceKey).calls.push('configureAcls'), { bootstrap: 'bootstrapped' }),
  ensureEndpointCertificate: async (a) => {
    world(a.plan.resourceKey).calls.push('ensureEndpointCertificate');
    return { notAfter: null, renewed: false, serial: null };
  },
  ensureEndpoint: async (a) => {
    const w = world(a.plan.resourceKey);
    w.calls.push('ensureEndpoint');
    if (w.endpointFails) {
      // Fails once the gate beside it waits.
      while (!w.calls.includes('waitForHealthyCluster')) await new Promise((r) => setTimeout(r, 50));
      w.endpointFails();
    }
    return { fqdn: 'logic.example', privateFqdn: 'logic.private.example', certificateNotAfter: '' };
  },
  publishClientConfig: record('publishClientConfig'),
  recordClusterServers: record('recordClusterServers'),
  removePeerings: async (a) => (world(a.plan.resourceKey).calls.push('removePeerings'), { removed: [] }),
  destroyInfrastructure: record('destroyInfrastructure'),
  removeEndpoint: record('removeEndpoint'),
  deleteClusterContainer: async (a) => (world(a.resourceKey).calls.push('deleteClusterContainer'), { deleted: true }),
  destroyClusterPki: record('destroyClusterPki'),
  deleteClusterSecrets: async (a) => (world(a.resourceKey).calls.push('deleteClusterSecrets'), { deleted: 4 }),
  ensureCertificateSchedule: async (a) => (
    world(a.resourceKey).calls.push('ensureCertificateSchedule'),
    { outcome: 'created', intervalSeconds: 60 }
  ),
  removeCertificateSchedule: async (a) => (world(a.resourceKey).calls.push('removeCertificateSchedule'), { removed: true }),
};
/** Nothing else runs on these clusters: a delete takes the cluster at once. */
const deleteQueue: Partial<DeleteQueueActivities> = {
  claimClusterForDelete: async () => ({ claimed: true }),
};
const snapshotSchedules: Partial<SnapshotActivities> = {
  ensureSnapshotSchedule: async (a) => (
    world(a.resourceKey).calls.push('ensureSnapshotSchedule'),
    { scheduleId: 's', intervalSeconds: 3600, outcome: 'created' }
  ),
  removeSnapshotSchedule: async (a) => (world(a.resourceKey).calls.push('removeSnapshotSchedule'), { removed: true }),
};

useWorkflowWorker(stack, taskQueue, () => ({ ...store, ...lifecycle, ...snapshotSchedules, ...deleteQueue }));
const client = useTemporalClient(stack);

function begin(workflowType: string, w: Partial<World>) {
  const resourceKey = `/subscriptions/x/resourcegroups/rg/providers/hcs.consul/clusters/${randomUUID()}`;
  const operationId = randomUUID();
  worlds.set(resourceKey, { serverCount: 3, previous: [], calls: [`op:${operationId}`], progress: [], completed: false, ...w });
  const input: ClusterOperationInput = {
    operationId,
    kind: 'create',
    resourceKey,
    resourceId: resourceKey,
    subscriptionId: 'x',
    correlationId: 'c',
  };
  return {
    resourceKey,
    start: () => client.workflow.start(workflowType, { taskQueue, workflowId: `logic-${operationId}`, args: [input] }),
  };
}

describe('lifecycle workflows', () => {
  it('create runs every step once, in dependency order, reports rising progress, and answers the progress query', async () => {
    const { resourceKey, start } = begin('createCluster', {});
    const handle = await start();
    await handle.result();
    const w = world(resourceKey);
    const calls = w.calls.slice(1);
    expect([...calls].sort()).toEqual(
      [
        'loadClusterPlan',
        'ensureClusterSecrets',
        'ensureClusterPki',
        'ensureClusterContainer',
        'ensureEndpointCertificate',
        'applyInfrastructure:3',
        'publishServerFiles:3:3',
        'waitForHealthyCluster',
        'configureAcls',
        'ensureEndpoint',
        'publishClientConfig',
        'recordClusterServers',
        'ensureSnapshotSchedule',
        'ensureCertificateSchedule',
      ].sort(),
    );
    // What each step needs has happened before it (the rest runs in parallel).
    const before = (a: string, b: string) => expect(calls.indexOf(a), `${a} before ${b}`).toBeLessThan(calls.indexOf(b));
    for (const prepared of [
      'loadClusterPlan',
      'ensureClusterSecrets',
      'ensureClusterPki',
      'ensureClusterContainer',
      'ensureEndpointCertificate',
    ])
      before(prepared, 'applyInfrastructure:3');
    for (const after of ['publishServerFiles:3:3', 'ensureEndpoint', 'publishClientConfig']) before('applyInfrastructure:3', after);
    before('publishServerFiles:3:3', 'waitForHealthyCluster');
    before('waitForHealthyCluster', 'configureAcls');
    for (const last of ['recordClusterServers', 'ensureSnapshotSchedule', 'ensureCertificateSchedule'])
      for (const first of ['configureAcls', 'ensureEndpoint', 'publishClientConfig']) before(first, last);
    const percents = w.progress.map((p) => Number(p.split(':')[1]));
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(w.progress.map((p) => p.split(':')[0])).toEqual(['pki', 'infrastructure', 'publish-configuration', 'health-gate']);
    expect(w.completed).toBe(true);
    expect(await handle.query('progress')).toEqual({ step: 'done', percentComplete: 100 });
  });

  it('scale 5 to 3 retires servers 3 and 4 before terraform, then prunes raft and their blobs', async () => {
    const { resourceKey, start } = begin('scaleCluster', { serverCount: 3, previous: [0, 1, 2, 3, 4].map(server) });
    await (await start()).result();
    const calls = world(resourceKey).calls;
    expect(calls.indexOf('retireServers:3,4')).toBeGreaterThan(0);
    expect(calls.indexOf('retireServers:3,4')).toBeLessThan(calls.indexOf('applyInfrastructure:3'));
    expect(calls).toContain('unpublishServers:3');
    expect(calls.indexOf('pruneRaftPeers:3')).toBeLessThan(calls.indexOf('waitForHealthyCluster'));
  });

  it('a typed non-retryable error fails the operation at once, naming the step and the reason', async () => {
    let attempts = 0;
    const { resourceKey, start } = begin('createCluster', {
      applyFails: () => {
        attempts++;
        throw ApplicationFailure.nonRetryable('variable vnet_cidr is invalid', 'TerraformConfigurationInvalid');
      },
    });
    const handle = await start();
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(attempts).toBe(1);
    expect(world(resourceKey).failed).toEqual({
      status: 'Failed',
      error: { code: 'TerraformConfigurationInvalid', message: 'infrastructure failed: variable vnet_cidr is invalid' },
    });
  });

  it('a health gate that never passes ends Failed as ClusterNotHealthy after its attempts', async () => {
    let attempts = 0;
    const { resourceKey, start } = begin('createCluster', {
      healthFails: () => {
        attempts++;
        // As the real gate: out of time on its third attempt, it is final.
        throw ApplicationFailure.create({
          message: '2 voters in raft, expected 3',
          type: 'ClusterNotHealthy',
          nonRetryable: Context.current().info.attempt >= GATE_TIMEOUT_ATTEMPTS,
        });
      },
    });
    await expect((await start()).result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(attempts).toBe(3);
    expect(world(resourceKey).failed).toMatchObject({ status: 'Failed', error: { code: 'ClusterNotHealthy' } });
    expect(world(resourceKey).completed).toBe(false);
  }, 60_000);

  it('steps in parallel that both fail: the failure of the step listed first is reported, whichever failed first', async () => {
    const { resourceKey, start } = begin('createCluster', {
      pkiFails: () => {
        throw ApplicationFailure.nonRetryable('the PKI mount is in use', 'DerivedNameOwnedByAnotherCluster');
      },
      containerFails: () => {
        throw ApplicationFailure.nonRetryable('the container is in use', 'DerivedNameOwnedByAnotherCluster');
      },
    });
    await expect((await start()).result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(world(resourceKey).calls).not.toContain('applyInfrastructure:3');
    expect(world(resourceKey).failed).toEqual({
      status: 'Failed',
      error: { code: 'DerivedNameOwnedByAnotherCluster', message: 'pki failed: the PKI mount is in use' },
    });
  });

  it('a failed endpoint cancels the health gate waiting beside it and names the endpoint', async () => {
    const { resourceKey, start } = begin('createCluster', {
      gateWaits: true,
      endpointFails: () => {
        throw ApplicationFailure.nonRetryable('the DNS name is in use', 'DerivedNameOwnedByAnotherCluster');
      },
    });
    await expect((await start()).result()).rejects.toBeInstanceOf(WorkflowFailedError);
    const w = world(resourceKey);
    // The workflow ended only once the gate had stopped.
    expect(w.gateCancelled).toBe(true);
    expect(w.calls).not.toContain('configureAcls');
    expect(w.failed).toEqual({
      status: 'Failed',
      error: { code: 'DerivedNameOwnedByAnotherCluster', message: 'endpoint failed: the DNS name is in use' },
    });
    expect(w.completed).toBe(false);
  }, 60_000);

  it('a cancelled operation is recorded Canceled with the step it was in', async () => {
    const { resourceKey, start } = begin('createCluster', { applyBlocks: true });
    const handle = await start();
    while (!world(resourceKey).calls.includes('applyInfrastructure:3')) await new Promise((r) => setTimeout(r, 50));
    await handle.cancel();
    world(resourceKey).applyBlocks = false;
    await expect(handle.result()).rejects.toBeInstanceOf(WorkflowFailedError);
    expect(world(resourceKey).failed).toEqual({
      status: 'Canceled',
      error: { code: 'OperationCanceled', message: 'The operation was canceled on request during infrastructure.' },
    });
  });

  it('delete removes peerings, infrastructure, endpoint, blobs, PKI and secrets, then the record', async () => {
    const { resourceKey, start } = begin('deleteCluster', {});
    await (await start()).result();
    expect(world(resourceKey).calls.slice(1)).toEqual([
      'loadClusterPlan',
      'removeSnapshotSchedule',
      'removeCertificateSchedule',
      'removePeerings',
      'destroyInfrastructure',
      'removeEndpoint',
      'deleteClusterContainer',
      'destroyClusterPki',
      'deleteClusterSecrets',
    ]);
    expect(world(resourceKey).completed).toBe(true);
  });
});
