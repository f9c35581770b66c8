# Placement of a cluster's Consul servers and the host-manager configuration each one boots
# with. Pure computation: no provider, no resource, so it applies with no cloud at all (the
# tests apply it on its own) and the parent module only turns its result into resources.
#
# This module is the one place that decides placement (test/terraform/module.test.ts applies it):
# server i is named "<cluster>-server-<i>" and runs in availability zone (i % 3) + 1, so 3
# servers span 3 zones and 5 servers put at most two in a zone (zones 1, 2, 3, 1, 2). Index-based placement keeps existing servers where they are when
# the cluster scales.

terraform {
  required_version = ">= 1.8.0"
}

locals {
  zone_count = 3

  servers = [
    for index in range(var.server_count) : {
      index = index
      name  = "${var.cluster_name}-server-${index}"
      zone  = tostring(index % local.zone_count + 1)
    }
  ]

  # What host-manager reads at boot. Paths and ids only: never a key, token, SAS or password.
  # host-manager fetches everything secret from the blob prefix with the VM's managed identity.
  host_configs = [
    for server in local.servers : {
      version = 1
      blob = {
        accountUrl   = var.blob_account_url
        container    = var.blob_container
        serverPrefix = "servers/${server.index}/"
      }
      identity = {
        clientId = var.identity_client_id
      }
      cluster = {
        name        = var.cluster_name
        datacenter  = var.datacenter
        serverIndex = server.index
        zone        = server.zone
      }
    }
  ]
}
