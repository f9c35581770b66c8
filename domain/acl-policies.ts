// The ACL policies of the control plane's own tokens in a cluster (Consul HCL rules) and which
// tokens a primary and a secondary get. Pure text; the tokens' secrets are generated and stored
// by the worker (activities/acls.ts).

/** What a server agent needs: register nodes, read services and agents. */
export const AGENT_POLICY =
  'node_prefix "" { policy = "write" }\nservice_prefix "" { policy = "read" }\nagent_prefix "" { policy = "read" }\n';
/** What taking and restoring snapshots needs. */
export const SNAPSHOT_POLICY = 'acl = "write"\noperator = "read"\nkey_prefix "" { policy = "read" }\n';
/** What ACL replication in a secondary datacenter needs (Consul's documented replication policy). */
export const REPLICATION_POLICY = 'acl = "write"\noperator = "write"\nservice_prefix "" {\n  policy = "read"\n  intentions = "read"\n}\n';

/** One control-plane token: its name (also its policy's), which stored secret holds it, its rules. */
export interface ControlPlaneToken {
  name: string;
  secret: 'agent' | 'snapshot' | 'replication';
  rules: string;
}

/** The control plane's tokens in every cluster. */
export const CLUSTER_TOKENS: readonly ControlPlaneToken[] = [
  { name: 'hcs-agent', secret: 'agent', rules: AGENT_POLICY },
  { name: 'hcs-snapshot', secret: 'snapshot', rules: SNAPSHOT_POLICY },
];

/** A secondary's tokens, made in its primary: the cluster's and the replication token. */
export const SECONDARY_TOKENS: readonly ControlPlaneToken[] = [
  ...CLUSTER_TOKENS,
  { name: 'hcs-replication', secret: 'replication', rules: REPLICATION_POLICY },
];

/** The root token handed to the customer: management policy, no rules of its own. */
export const ROOT_TOKEN_NAME = 'hcs-root';
