# Inputs are validated by the parent module (consul-cluster), which is the only caller.

variable "cluster_name" {
  description = "Cluster name; servers are named \"<cluster_name>-server-<index>\"."
  type        = string
}

variable "server_count" {
  description = "Number of Consul servers (1, 3 or 5)."
  type        = number
}

variable "datacenter" {
  description = "Consul datacenter name written into each server's host-manager configuration."
  type        = string
}

variable "blob_account_url" {
  description = "Blob service URL of the storage account holding the cluster's container (no query string)."
  type        = string
}

variable "blob_container" {
  description = "Name of the cluster's private blob container."
  type        = string
}

variable "identity_client_id" {
  description = "Client id of the user-assigned identity the servers use to read the container."
  type        = string
}
