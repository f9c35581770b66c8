# --- Provider: where the twin is and who terraform is there -------------------------------

variable "arm_endpoint" {
  description = "The twin's Resource Manager base URL, e.g. \"https://127.0.0.1:8443/\"."
  type        = string
}

variable "authority_host" {
  description = "The twin's token authority base URL (HTTPS; azidentity refuses plain HTTP), e.g. \"https://127.0.0.1:8443/\"."
  type        = string
}

variable "arm_audience" {
  description = "Audience the tokens are requested for; the twin checks it."
  type        = string
  default     = "https://management.core.windows.net/"
}

variable "subscription_id" {
  description = "Subscription id the twin serves."
  type        = string
}

variable "tenant_id" {
  description = "Tenant of the twin's service principal (\"adfs\" avoids the Azure AD instance discovery call, see README.md)."
  type        = string
  default     = null
}

variable "client_id" {
  description = "Client id of the twin's service principal."
  type        = string
  default     = null
}

variable "client_secret" {
  description = "Client secret of the twin's service principal. Pass it through TF_VAR_client_secret, never a file in the repository."
  type        = string
  default     = null
  sensitive   = true
}

variable "use_msi" {
  description = "Authenticate with the managed identity protocol against IDENTITY_ENDPOINT instead of a client secret."
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
  type    = string
  default = "westeurope"
}

variable "resource_group_name" {
  type = string
}

variable "create_resource_group" {
  type    = bool
  default = true
}

variable "vnet_cidr" {
  type    = string
  default = "10.0.0.0/16"
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

variable "admin_ssh_public_key" {
  description = "Any OpenSSH public key; the twin's instances are local processes and ignore it."
  type        = string
}

variable "storage_account_id" {
  description = "Resource id the twin knows for the Azurite account."
  type        = string
}

variable "blob_account_url" {
  description = "Azurite's blob URL, e.g. \"http://127.0.0.1:10000/devstoreaccount1\"."
  type        = string
}

variable "blob_container" {
  type = string
}

variable "tags" {
  type    = map(string)
  default = {}
}
