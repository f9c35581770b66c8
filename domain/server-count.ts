// How many Consul servers a cluster may have. Where each server runs (its name and availability
// zone) is decided by the Terraform module (terraform/modules/consul-cluster/placement).

export const SERVER_COUNTS = [1, 3, 5] as const;
export type ServerCount = (typeof SERVER_COUNTS)[number];
