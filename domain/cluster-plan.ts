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
