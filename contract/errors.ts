// The worker's error vocabulary: every error type an activity or workflow ends with, whether a
// retry can fix it, and what the operator should do next. The workflows' non-retryable list and
// the hint appended to each failure's message both come from this one table. Pure data: imported
// by workflow code as well as activities.
import { ApplicationFailure } from '@temporalio/common';

export interface WorkerErrorEntry {
  /** A later attempt of the same activity can succeed without anyone acting. */
  retryable: boolean;
  /** What to do next, written for the customer or the SRE reading the failed operation. */
  hint: string;
}

export const WORKER_ERRORS = {
  ClusterNotFound: {
    retryable: false,
    hint: 'The cluster was deleted while the operation ran; nothing is left to do.',
  },
  ClusterNotHealthy: {
    retryable: true,
    hint: 'Check the servers on the cluster health page; the operation can be retried once a leader is elected.',
  },
  ServerAddressesPending: {
    retryable: true,
    hint: 'The scale set has not reported server addresses yet; this clears by itself when the instances boot.',
  },
  PrimaryClusterNotFound: {
    retryable: false,
    hint: 'The federation primary is gone or being deleted; create the secondary again against a live primary.',
  },
  PrimaryServersPending: {
    retryable: true,
    hint: "The federation primary has no servers recorded yet; this clears by itself once the primary's servers are built.",
  },
  FederationNotJoined: {
    retryable: true,
    hint: 'Check that the primary is healthy and reachable over the WAN; the join is retried.',
  },
  SecretMissing: {
    retryable: false,
    hint: 'A secret the cluster needs was never generated; run an update of the cluster to regenerate it, or open a support case.',
  },
  PlainHttpOpen: {
    retryable: false,
    hint: 'A server answers plain HTTP on 8500; the cluster must not be used until an SRE has found why (the configuration forbids it).',
  },
  ManifestMissing: {
    retryable: false,
    hint: 'The server has no published configuration; run an update of the cluster, then retry the operation.',
  },
  CertificateNotServed: {
    retryable: true,
    hint: "A server has not loaded the certificate published for it; check its host-manager's log on the instance, then retry the rotation.",
  },
  ConsulAccessDenied: {
    retryable: false,
    hint: "Consul refused the control plane's token; rotate the root token or open a support case.",
  },
  TerraformConfigurationInvalid: {
    retryable: false,
    hint: 'The infrastructure module refused the configuration; an SRE must fix the module or the cluster spec before retrying.',
  },
  TerraformStateLocked: {
    retryable: true,
    hint: "Another run holds the cluster's Terraform state; this run waits for it.",
  },
  TerraformFailed: {
    retryable: true,
    hint: 'Terraform failed against the cloud; the output tail is in the failure details. It is retried.',
  },
  DerivedNameOwnedByAnotherCluster: {
    retryable: false,
    hint: 'A name derived for this cluster belongs to another cluster; delete this cluster and create it again (it gets new names).',
  },
  SnapshotNotFound: {
    retryable: false,
    hint: 'The snapshot was deleted or never existed; list the snapshots and pick another.',
  },
  SnapshotNotReady: {
    retryable: false,
    hint: 'The snapshot failed or is still being written; wait for it to be Succeeded or pick another.',
  },
  SnapshotVersionIncompatible: {
    retryable: false,
    hint: "The snapshot was taken on a newer Consul than the cluster's; upgrade the cluster first or pick an older snapshot.",
  },
  InvalidOperationInput: {
    retryable: false,
    hint: 'The operation was started without what it needs; start it again through the API, which validates its input.',
  },
  SchedulesUnavailable: {
    retryable: false,
    hint: 'This worker has no Temporal schedule client; an SRE must start the worker with its Temporal connection.',
  },
  UpgradeTargetMissing: {
    retryable: false,
    hint: 'The upgrade has no target version; start it again with consulVersion.',
  },
  PeeringRefused: {
    retryable: false,
    hint: 'Consul refused the peering token (invalid, expired, already used, or made by this cluster itself); generate a new token on the other cluster and establish again.',
  },
  MeteringTokenUnavailable: {
    retryable: true,
    hint: 'The worker got no token for the Marketplace metering API; check its identity (HCS_METERING). Unsent hours are sent by the next firing within 24 hours.',
  },
  MeteringRequestRefused: {
    retryable: false,
    hint: "The Marketplace metering API refused the request itself (not one event); an SRE must fix the worker's metering settings or credentials. Unsent hours are sent by the next firing within 24 hours.",
  },
  OperationEnded: {
    retryable: false,
    hint: 'The operation was cancelled or ended while it waited; nothing more runs.',
  },
  ServerNotFound: {
    retryable: false,
    hint: 'The cluster has no server with that index (it was scaled down meanwhile); list the cluster and ask again.',
  },
  RepairWouldLoseQuorum: {
    retryable: false,
    hint: "Reimaging this server now could lose the cluster's data: the other servers do not hold a quorum with a leader. Restore a snapshot, or repair the other servers first.",
  },
  ServerInstanceMissing: {
    retryable: true,
    hint: "The server's scale set has no virtual machine right now; Terraform re-creates it on the next update of the cluster.",
  },
} as const satisfies Record<string, WorkerErrorEntry>;

export type WorkerErrorType = keyof typeof WORKER_ERRORS;

/** Error types no retry can fix: the workflows' activity retry policies stop at once on these. */
export const NON_RETRYABLE_ERRORS: WorkerErrorType[] = (Object.keys(WORKER_ERRORS) as WorkerErrorType[]).filter(
  (t) => !WORKER_ERRORS[t].retryable,
);

/**
 * The failure for `type`: the message says what went wrong and, from the table, what to do next;
 * retryable or not as the table says.
 */
export function workerFailure(type: WorkerErrorType, message: string, ...details: unknown[]): ApplicationFailure {
  const entry: WorkerErrorEntry = WORKER_ERRORS[type];
  return ApplicationFailure.create({
    type,
    message: `${message}. ${entry.hint}`,
    nonRetryable: !entry.retryable,
    details,
  });
}
