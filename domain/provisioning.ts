// What an operation's end does to the cluster's provisioningState, and when safety work runs.
// Pure rules, shared by the store activities and the schedule firings.
//
// In ARM, provisioningState reflects the last PUT, PATCH or DELETE of the resource. Only the
// operations those requests start (create, update, scale, delete) move it; a day-2 operation
// (snapshot, restore, root token, upgrade, certificate rotation, ...) carries its own outcome on
// the operation record and leaves the cluster's state as it was. Safety work - certificate
// rotation and automatic snapshots - runs whenever the cluster has servers, whatever its
// provisioningState: a cluster left Failed by a failed scale still has servers whose
// certificates expire.

/** The operation kinds a PUT, PATCH or DELETE starts: the only ones whose end sets provisioningState. */
export const PROVISIONING_KINDS = ['create', 'update', 'scale', 'delete'] as const;

/** Whether ending an operation of this kind sets the cluster's provisioningState. */
export function movesProvisioningState(kind: string): boolean {
  return (PROVISIONING_KINDS as readonly string[]).includes(kind);
}

/**
 * Why a firing of certificate rotation or automatic snapshots skips this cluster, or undefined
 * when it runs: only a cluster without recorded servers (not built yet) or one being deleted is
 * skipped. The one-operation rule is checked separately, when the operation is recorded.
 */
export function safetyWorkSkipReason(c: { provisioningState: string; serverCount: number }): string | undefined {
  if (c.provisioningState === 'Deleting') return 'the cluster is being deleted';
  if (c.serverCount === 0) return 'the cluster has no servers yet';
  return undefined;
}
