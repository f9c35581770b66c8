# Root module that builds one Consul cluster on Azure, as the production worker runs it.
# Credentials never appear here: the worker authenticates as its own managed identity (VM or
# scale set MSI) or, on AKS, by workload identity (federated token file from the
# environment). No CLI, no client secret.

terraform {
  required_version = ">= 1.8.0"

  required_providers {
    azapi = {
      source  = "hcs.internal/azure/azapi"
      version = "1.15.0"
    }
  }
}

provider "azapi" {
  subscription_id = var.subscription_id
  tenant_id       = var.tenant_id
  # Client id of the worker's user-assigned identity (MSI) or of the federated application
  # (workload identity). null: the VM's only identity.
  client_id = var.worker_client_id

  use_msi                   = !var.use_workload_identity
  use_aks_workload_identity = var.use_workload_identity
  use_cli                   = false

  # Providers are registered once per subscription by onboarding, not on every run (and the
  # worker's role does not include registration).
  skip_provider_registration = true
}

module "cluster" {
  source = "../../modules/consul-cluster"

  subscription_id       = var.subscription_id
  cluster_name          = var.cluster_name
  cluster_id            = var.cluster_id
  location              = var.location
  resource_group_name   = var.resource_group_name
  create_resource_group = var.create_resource_group
  vnet_cidr             = var.vnet_cidr
  server_count          = var.server_count
  consul_version        = var.consul_version
  datacenter            = var.datacenter
  public_endpoint       = var.public_endpoint
  vm_size               = var.vm_size
  image                 = var.image
  admin_ssh_public_key  = var.admin_ssh_public_key
  storage_account_id    = var.storage_account_id
  blob_account_url      = var.blob_account_url
  blob_container        = var.blob_container
  tags                  = var.tags
}
