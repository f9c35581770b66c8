// The plain, non-secret facts the workflows carry about a cluster between activities: its plan
// (names, size, version, network), where its servers are and how a secondary joins its primary.
import type { MaintenanceWindow } from './maintenance-window.js';

/** Whose a named thing is: the cluster's random id (on everything made for it). */
export interface ClusterOwner {
  clusterId: string;
}

/** One Consul server of a cluster, as the last successful apply reported it. */
export interface ServerInfo {
  index: number;
  name: string;
  zone: string;
  /** Private address (host only). */
  address: string;
}

/** What the workflows need to know about a cluster; plain, non-secret facts. */
export interface ClusterPlan {
  resourceKey: string;
  name: string;
  location: string;
  datacenter: string;
  serverCount: number;
  consulVersion: string;
  cidr: string;
  publicEndpoint: boolean;
  /** The cluster's random id, on everything made for it; names below come from it. */
  owner: ClusterOwner;
  /** Resource group of the cluster's infrastructure in the hosting subscription. */
  infraResourceGroup: string;
  /** The endpoint's DNS name. */
  fqdn: string;
  /**
   * The servers' DNS name inside the network (privateFqdnOf(fqdn)): A records to every server's
   * private address, kept current by every operation that changes them; client agents join by it.
   * Absent in plans recorded before it existed (privateFqdnOf(fqdn) then).
   */
  privateFqdn?: string;
  /** The cluster's Blob container and Terraform state. */
  container: string;
  terraformState: string;
  /** When disruptive work (upgrades) may happen; absent: any time. */
  maintenanceWindow?: MaintenanceWindow;
  /** Set when the cluster is a secondary datacenter of a WAN federation. */
  federation?: { primaryResourceKey: string; primaryDatacenter: string };
}

/** What a secondary's servers need to join the primary's WAN federation. */
export interface FederationJoin {
  primaryDatacenter: string;
  /** WAN gossip addresses of the primary's servers. */
  wanJoin: string[];
}

/**
 * The servers' private DNS name from the endpoint's, by HCP's convention: the first label, then
 * `private`, then the rest (`c1.abc.zone` -> `c1.private.abc.zone`). A trailing dot is dropped.
 */
export function privateFqdnOf(fqdn: string): string {
  const name = fqdn.trim().replace(/\.$/, '');
  const dot = name.indexOf('.');
  if (dot <= 0 || dot === name.length - 1 || name.split('.').some((l) => l === ''))
    throw new Error(`'${fqdn}' is not a DNS name of at least two labels`);
  return `${name.slice(0, dot)}.private${name.slice(dot)}`;
}

/** The plan's private DNS name (plans recorded before it existed derive it from fqdn). */
export function planPrivateFqdn(plan: Pick<ClusterPlan, 'fqdn' | 'privateFqdn'>): string {
  return plan.privateFqdn ?? privateFqdnOf(plan.fqdn);
}
