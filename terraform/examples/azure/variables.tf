# --- Provider: which subscription, and which identity the worker runs as --------------------

variable "subscription_id" {
  description = "Subscription the cluster is built in."
  type        = string
}

variable "tenant_id" {
  description = "Azure AD tenant of that subscription."
  type        = string
}

variable "worker_client_id" {
  description = "Client id of the worker's user-assigned managed identity or workload-identity application; null for a VM's system-assigned identity."
  type        = string
  default     = null
}

variable "use_workload_identity" {
  description = "Authenticate by AKS workload identity (AZURE_FEDERATED_TOKEN_FILE etc. from the environment) instead of the VM's managed identity."
  type        = bool
  default     = false
}

# --- The cluster -----------------------------------------------------------------------------

variable "cluster_name" {
  type = string
}

variable "cluster_id" {
  description = "The cluster's random id (32 lower-case hex digits); tag hcs-cluster-id on every taggable resource."
  type        = string
}

variable "location" {
  type = string
}

variable "resource_group_name" {
  type = string
}

variable "create_resource_group" {
  type    = bool
  default = true
}

variable "vnet_cidr" {
  type = string
}

variable "server_count" {
  type    = number
  default = 3
}

variable "consul_version" {
  type = string
}

variable "datacenter" {
  type    = string
  default = "dc1"
}

variable "public_endpoint" {
  type    = bool
  default = false
}

variable "vm_size" {
  type    = string
  default = "Standard_D2s_v5"
}

variable "image" {
  description = "Server image; production passes the gallery image version that carries host-manager and Consul."
  type = object({
    id        = optional(string)
    publisher = optional(string)
    offer     = optional(string)
    sku       = optional(string)
    version   = optional(string, "latest")
  })
  default = {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "server"
    version   = "latest"
  }
}

variable "admin_ssh_public_key" {
  type = string
}

variable "storage_account_id" {
  type = string
}

variable "blob_account_url" {
  type = string
}

variable "blob_container" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
