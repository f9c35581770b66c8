// Create, update and scale: one converging workflow under three names (so the Temporal UI says
// what was asked) that brings the cluster to its spec, whatever state it is in now.
//
// Steps that do not need each other run at once: the cluster's secrets, its PKI and its Blob
// container before Terraform; after Terraform, the servers' files and the health gate beside the
// endpoint (DNS, ACME) and the client configuration. Reads and writes of our own store (the plan,
// progress, the servers, the end) are local activities: they run in the worker that runs the
// workflow, without a round trip through the Temporal server each. Progress is recorded at the
// steps a caller waits on (pki, infrastructure, publish-configuration, health-gate).
//
// Operations started before this shape existed replay the sequential one (`patched`).
import { patched, proxyLocalActivities } from '@temporalio/workflow';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import type { StoreActivities } from '../activities/store.js';
import type { AppliedInfrastructure } from '../activities/infrastructure.js';
import type { ClusterPlan, ServerInfo } from '../domain/cluster-plan.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { ENDPOINT_CERTIFICATE_FIRST_PATCH, gate, infra, operation, quick, retry, schedules, store } from './lifecycle.js';
import { inParallel } from './parallel.js';

/** Calls of our own store: quick, idempotent, and safe to run again after a crash. */
const local = { startToCloseTimeout: '10 seconds', retry: { ...retry, initialInterval: '1 second', maximumAttempts: 20 } } as const;
const localStore = proxyLocalActivities<StoreActivities>(local);
const localRecord = proxyLocalActivities<Pick<ClusterActivities, 'loadClusterPlan' | 'loadClusterServers' | 'recordClusterServers'>>(local);

export const PARALLEL_CONVERGE_PATCH = 'converge-in-parallel';

export async function createCluster(input: ClusterOperationInput): Promise<void> {
  await converge(input);
}

export async function updateCluster(input: ClusterOperationInput): Promise<void> {
  await converge(input);
}

export async function scaleCluster(input: ClusterOperationInput): Promise<void> {
  await converge(input);
}

/** An apply's result, also from a history written when it was the servers alone (before the public endpoint). */
function appliedInfrastructure(result: AppliedInfrastructure | ServerInfo[]): AppliedInfrastructure {
  return Array.isArray(result) ? { servers: result, publicIpAddress: null } : result;
}

/** The endpoint names the cluster shows: private (the servers), and public for a public endpoint. */
function recordedEndpoints(plan: Pick<ClusterPlan, 'publicEndpoint'>, endpoint: { fqdn: string; privateFqdn?: string }) {
  return {
    fqdn: endpoint.fqdn,
    ...(endpoint.privateFqdn ? { privateFqdn: endpoint.privateFqdn } : {}),
    ...(plan.publicEndpoint ? { publicFqdn: endpoint.fqdn } : {}),
  };
}

async function converge(input: ClusterOperationInput): Promise<void> {
  if (patched(PARALLEL_CONVERGE_PATCH)) await convergeInParallel(input);
  else await convergeSequentially(input);
}

async function convergeInParallel(input: ClusterOperationInput): Promise<void> {
  const hooks = { recordProgress: localStore.recordProgress };
  await operation(
    input,
    async (step, phase) => {
      const ref = { resourceKey: input.resourceKey };
      // A generation number for everything this operation publishes; later operations write
      // higher ones, so a stale retry can never overwrite their files (Date.now is replay-safe).
      const generation = Date.now();
      const [plan, previous] = await inParallel(
        [() => phase('plan', () => localRecord.loadClusterPlan(ref)), () => localRecord.loadClusterServers(ref), () => step('pki', 10)],
        { cancelOthersOnFailure: false },
      );
      // All quick: each finishes, and the first listed that failed names the failure (a PKI
      // mount taken by another cluster is reported before its Blob container, whichever came first).
      // A public endpoint's certificate (DNS-01, no server needed) beside them: every server
      // presents it on HTTPS from its first start.
      const certificateFirst = patched(ENDPOINT_CERTIFICATE_FIRST_PATCH);
      await inParallel(
        [
          () => phase('pki', () => quick.ensureClusterPki({ plan })),
          ...(certificateFirst ? [() => phase('endpoint', () => gate.ensureEndpointCertificate({ plan }))] : []),
          () => phase('pki', () => quick.ensureClusterContainer(ref)),
          () =>
            phase('secrets', async () => {
              await quick.ensureClusterSecrets({ ...ref, primaryResourceKey: plan.federation?.primaryResourceKey });
              // A secondary datacenter: its tokens are made in the primary before its servers start.
              if (plan.federation) await quick.joinFederation({ plan });
            }),
        ],
        { cancelOthersOnFailure: false },
      );
      const retiring = previous.filter((s) => s.index >= plan.serverCount);
      if (retiring.length) {
        await step('retire-servers', 15);
        await gate.retireServers({ plan, servers: previous.filter((s) => s.index < plan.serverCount), retiring });
      }
      await step('infrastructure', 20);
      const { servers, publicIpAddress } = appliedInfrastructure(await infra.applyInfrastructure({ plan, serverCount: plan.serverCount }));
      await step('publish-configuration', 55);
      // The gate may wait long: a failed endpoint or client configuration cancels it.
      const [, endpoint] = await inParallel(
        [
          async () => {
            await quick.publishServerFiles({ plan, servers, generation, bootstrapExpect: plan.serverCount });
            if (retiring.length) await quick.unpublishServers({ resourceKey: input.resourceKey, keepCount: plan.serverCount });
            await step('health-gate', 65);
            if (retiring.length) await gate.pruneRaftPeers({ plan, servers });
            await gate.waitForHealthyCluster({ plan, servers });
            if (plan.federation) {
              await step('federation', 75);
              await gate.waitForFederation({ plan, servers });
            }
            await phase('acls', () => quick.configureAcls({ plan, servers }));
          },
          () => phase('endpoint', () => gate.ensureEndpoint({ plan, servers, publicIpAddress })),
          () => phase('client-config', () => quick.publishClientConfig({ plan, servers })),
        ],
        { cancelOthersOnFailure: true },
      );
      await phase('schedules', () =>
        inParallel(
          [
            () => localRecord.recordClusterServers({ ...ref, servers, ...recordedEndpoints(plan, endpoint) }),
            () => schedules.ensureSnapshotSchedule(ref),
            () => quick.ensureCertificateSchedule(ref),
          ],
          { cancelOthersOnFailure: false },
        ),
      );
      await localStore.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
    },
    hooks,
  );
}

/** The steps one after another, each an activity (operations started before convergeInParallel). */
async function convergeSequentially(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    const generation = Date.now();
    await step('plan', 2);
    const plan = await quick.loadClusterPlan(ref);
    const previous = await quick.loadClusterServers(ref);
    await step('secrets', 5);
    await quick.ensureClusterSecrets({ ...ref, primaryResourceKey: plan.federation?.primaryResourceKey });
    await step('pki', 10);
    await quick.ensureClusterPki({ plan });
    await quick.ensureClusterContainer(ref);
    if (plan.federation) await quick.joinFederation({ plan });
    const retiring = previous.filter((s) => s.index >= plan.serverCount);
    if (retiring.length) {
      await step('retire-servers', 15);
      await gate.retireServers({ plan, servers: previous.filter((s) => s.index < plan.serverCount), retiring });
    }
    await step('infrastructure', 20);
    const { servers, publicIpAddress } = appliedInfrastructure(await infra.applyInfrastructure({ plan, serverCount: plan.serverCount }));
    await step('publish-configuration', 55);
    await quick.publishServerFiles({ plan, servers, generation, bootstrapExpect: plan.serverCount });
    if (retiring.length) await quick.unpublishServers({ resourceKey: input.resourceKey, keepCount: plan.serverCount });
    await step('health-gate', 65);
    if (retiring.length) await gate.pruneRaftPeers({ plan, servers });
    await gate.waitForHealthyCluster({ plan, servers });
    if (plan.federation) {
      await step('federation', 75);
      await gate.waitForFederation({ plan, servers });
    }
    await step('acls', 80);
    await quick.configureAcls({ plan, servers });
    await step('endpoint', 85);
    const endpoint = await gate.ensureEndpoint({ plan, servers, publicIpAddress });
    await step('client-config', 95);
    await quick.publishClientConfig({ plan, servers });
    await quick.recordClusterServers({ ...ref, servers, ...recordedEndpoints(plan, endpoint) });
    await step('schedules', 98);
    await schedules.ensureSnapshotSchedule(ref);
    await quick.ensureCertificateSchedule(ref);
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}
