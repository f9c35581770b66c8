// Certificate rotation: each firing of a cluster's certificate schedule (every twelfth of the
// certificate lifetime) checks whether any server certificate has passed two thirds of its life
// (or is missing); only then it records a `rotate` operation and starts rotateCertificates under
// it. While another operation holds the lock the firing asks again until the next firing would
// come; an upgrade waiting for its window holds nothing (it is Scheduled). Rotation
// issues new certificates under new blob names and publishes them with a new generation;
// host-manager writes them and reloads Consul (SIGHUP), which takes the new certificates without
// dropping out of the cluster; the health gate confirms the cluster stayed whole, and the
// operation ends once every server presents the published certificate on HTTPS. A public endpoint's ACME certificate
// is renewed in the same operation when fewer than 30 days remain, first, and published with the
// servers' files: Consul serves it on HTTPS after the reload, in place. On request (the
// rotateCertificates action, params.renewAll) every certificate is renewed at once, due or not.
import { patched, proxyActivities, sleep, uuid4, workflowInfo } from '@temporalio/workflow';
import type { ClusterActivities } from '../activities/cluster-activities.js';
import type { ClusterOperationInput } from '../contract/temporal.js';
import { heartbeatingRetry } from '../contract/retry.js';
import { ENDPOINT_CERTIFICATE_FIRST_PATCH, gate, operation, retry, runScheduledOperation, store } from './lifecycle.js';

// Short timeouts on the certificate path: a certificate is due with a third of its life left,
// so a worker lost in the middle of a check or a renewal must be noticed in seconds (by the
// call's deadline or its missing heartbeat), not after the minute the other calls allow.
/** Reads of the store, Blob and Vault: a few hundred milliseconds when all is well. */
const check = proxyActivities<ClusterActivities>({ startToCloseTimeout: '5 seconds', retry: { ...retry, maximumAttempts: 20 } });
/** Publishing and the health gate: heartbeating per server and per poll. */
const renew = proxyActivities<ClusterActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '10 seconds',
  retry: heartbeatingRetry(8),
});

export async function rotateCertificates(input: ClusterOperationInput): Promise<void> {
  await operation(input, async (step) => {
    const ref = { resourceKey: input.resourceKey };
    const generation = Date.now();
    await step('plan', 5);
    const plan = await check.loadClusterPlan(ref);
    const servers = await check.loadClusterServers(ref);
    // Requested (rotateCertificates): every server certificate, due or not: each one an earlier
    // generation wrote (a retry keeps those this operation's generation already wrote).
    const renewAll = input.params?.renewAll === true;
    const { due } = renewAll ? { due: servers.length } : await check.certificatesDue({ plan, servers });
    // A public endpoint's ACME certificate first (renewed when due or requested), so one publish
    // carries both; servers whose files do not name the stored one yet are due as well.
    let endpointOutdated = 0;
    if (patched(ENDPOINT_CERTIFICATE_FIRST_PATCH) && plan.publicEndpoint) {
      await step('endpoint-certificate', 20);
      await gate.ensureEndpointCertificate({ plan, ...(renewAll ? { renewOrderedBefore: generation } : {}) });
      ({ outdated: endpointOutdated } = await check.endpointCertificateOutdated({ plan, servers }));
    }
    if (due > 0 || endpointOutdated > 0) {
      await step(due > 0 ? `renew ${due} certificate(s)` : 'publish the endpoint certificate', 30);
      await renew.publishServerFiles({
        plan,
        servers,
        generation,
        bootstrapExpect: plan.serverCount,
        ...(renewAll ? { renewIssuedBefore: generation } : {}),
      });
      await step('health-gate', 70);
      await renew.waitForHealthyCluster({ plan, servers });
      // The reload is host-manager's: the rotation is done once every server serves what was published.
      if (patched('served-certificates-confirmed')) {
        await step('confirm-served-certificates', 80);
        await renew.waitForServedCertificates({ plan, servers });
      }
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
  const ask = () => check.beginCertificateRotation({ resourceKey: a.resourceKey, operationId, scheduledBy: workflowInfo().workflowId });
  let begun = await ask();
  // Due but another operation holds the lock: ask again until the next firing would come.
  if (patched('certificate-check-retries')) {
    let waited = 0;
    while (!begun.started && begun.retry && waited < begun.retry.forSeconds) {
      waited += begun.retry.everySeconds;
      await sleep(begun.retry.everySeconds * 1000);
      begun = await ask();
    }
  }
  const skipped = await runScheduledOperation(begun, rotateCertificates, 'certificate rotation');
  if (skipped !== undefined) return { skipped };
  return { operationId };
}
