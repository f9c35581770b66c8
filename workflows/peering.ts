// Cluster peering on request: generatePeeringToken makes a token on this (accepting) cluster, its
// result sealed for the API; establishPeering dials another cluster with a token the API sealed.
// The tokens never pass through here: the activities read and write them in the store.
import { workerFailure } from '../contract/errors.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { operation, quick, store } from './lifecycle.js';

function peerNameOf(input: ClusterOperationInput): string {
  const peerName = input.params?.peerName;
  if (!peerName) throw workerFailure('InvalidOperationInput', 'the operation has no peerName');
  return peerName;
}

export async function generatePeeringToken(input: ClusterOperationInput): Promise<void> {
  const peerName = peerNameOf(input);
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    await step('peering-token', 30);
    const plan = await quick.loadClusterPlan(ref);
    const servers = await quick.loadClusterServers(ref);
    await quick.generatePeeringToken({ plan, servers, operationId: input.operationId, peerName });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

export async function establishPeering(input: ClusterOperationInput): Promise<void> {
  const peerName = peerNameOf(input);
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    await step('establish-peering', 30);
    const plan = await quick.loadClusterPlan(ref);
    const servers = await quick.loadClusterServers(ref);
    await quick.establishPeering({ plan, servers, operationId: input.operationId, peerName });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}
