# Root module that builds one Consul cluster on the local Azure twin (apps/local-cloud).
# The module is the same one production uses; only this provider block differs: the
# Resource Manager endpoint, the token authority and the audience point at the twin, and
# credentials are the twin's service principal. Nothing here reaches Azure.
#
#   terraform init
#   terraform apply -var-file=twin.tfvars
#
# The twin serves HTTPS with a certificate of its own: run terraform with SSL_CERT_FILE (or
# the system trust store) set to include that CA.

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
  # azapi 1.15.0 takes custom clouds through the `endpoint` list attribute (one element).
  endpoint = [
    {
      resource_manager_endpoint       = var.arm_endpoint
      active_directory_authority_host = var.authority_host
      resource_manager_audience       = var.arm_audience
    }
  ]

  subscription_id = var.subscription_id
  tenant_id       = var.tenant_id
  client_id       = var.client_id
  client_secret   = var.client_secret

  # Managed identity by the App Service protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER in the
  # environment) instead of a client secret; see README.md for when to choose it.
  use_msi = var.use_msi
  use_cli = false

  # The twin has no resource-provider registration API to call.
  skip_provider_registration   = true
  disable_terraform_partner_id = true
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
  admin_ssh_public_key  = var.admin_ssh_public_key
  storage_account_id    = var.storage_account_id
  blob_account_url      = var.blob_account_url
  blob_container        = var.blob_container
  tags                  = var.tags
}
