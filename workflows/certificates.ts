// Certificate rotation: each firing of a cluster's certificate schedule checks whether any server
// certificate has passed two thirds of its life (or is missing); only then it records a `rotate`
// operation - when no other operation runs - and starts rotateCertificates under it. Rotation
// issues new certificates under new blob names and publishes them with a new generation;
// host-manager writes them and reloads Consul (SIGHUP), which takes the new certificates without
// dropping out of the cluster; the health gate confirms it. The endpoint's ACME certificate is
// renewed in the same operation when fewer than 30 days remain.
import { uuid4, workflowInfo } from '@temporalio/workflow';
import type { ClusterOperationInput } from './contract.js';
import { gate, operation, quick, runScheduledOperation, store } from './lifecycle.js';

export async function rotateCertificates(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    const generation = Date.now();
    await step('plan', 5);
    const plan = await quick.loadClusterPlan(ref);
    const servers = await quick.loadClusterServers(ref);
    const { due } = await quick.certificatesDue({ plan, servers });
    if (due > 0) {
      await step(`renew ${due} certificate(s)`, 30);
      await quick.publishServerFiles({ plan, servers, generation, bootstrapExpect: plan.serverCount });
      await step('health-gate', 70);
      await gate.waitForHealthyCluster({ plan, servers });
    }
    // The endpoint's ACME certificate: kept while more than 30 days remain, else renewed.
    await step('endpoint-certificate', 90);
    await gate.ensureEndpoint({ plan, servers });
    await store.completeOperation({ operationId: input.operationId, resourceKey: input.resourceKey });
  });
}

/** What each firing of the certificate schedule runs. */
export async function scheduledCertificateRotation(a: { resourceKey: string }): Promise<{ skipped: string } | { operationId: string }> {
  const operationId = uuid4();
  const begun = await quick.beginCertificateRotation({ resourceKey: a.resourceKey, operationId, scheduledBy: workflowInfo().workflowId });
  const skipped = await runScheduledOperation(begun, rotateCertificates, 'certificate rotation');
  if (skipped !== undefined) return { skipped };
  return { operationId };
}
