// Names of a cluster's stored secrets and sealed documents, shared by the worker (which writes
// them) and the API (which reads the sealed ones back for customers). Pure: names and the
// sealing context only, no I/O.

/** Names of the secrets each cluster has; values are in the store, transit-encrypted. */
export const SECRET = {
  gossipKey: 'gossip-key',
  managementToken: 'management-token',
  agentToken: 'agent-token',
  snapshotToken: 'snapshot-token',
  /** A secondary's token for ACL replication from the primary. */
  replicationToken: 'replication-token',
  rootToken: 'root-token',
  clientConfig: 'sealed/client-config',
} as const;

/** The sealed result of a root-token rotation, read once by the API through the operation result. */
export const rootTokenResultName = (operationId: string) => `sealed/root-token-result/${operationId}`;

/** A root-token rotation's token, fixed before Consul sees it (a retry makes the same token). */
export const pendingRootTokenName = (operationId: string) => `pending-root-token/${operationId}`;

/** The sealed result of generatePeeringToken, read once by the API through the operation result. */
export const peeringTokenResultName = (operationId: string) => `sealed/peering-token-result/${operationId}`;

/** The peering token establishPeering was given, sealed by the API for the worker; deleted once used. */
export const peeringTokenInputName = (operationId: string) => `sealed/peering-token-input/${operationId}`;

/** Associated data of a sealed document: which cluster and which document it is. */
export function sealContext(resourceKey: string, name: string): string {
  return `${resourceKey}\n${name}`;
}
